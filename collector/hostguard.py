"""Which names an HTTP listener answers to, and which browser posts it refuses (DNS rebinding, cross-site posts).

A web page cannot reach a collector on 127.0.0.1 by its own origin, but it can make its own name resolve
to 127.0.0.1 (DNS rebinding): the browser then sends `Host: evil.example` and treats the answers as
same-origin. So every HTTP listener (OTLP/HTTP, the console, /metrics) checks `Host` against the names it
is known by, and refuses posts a browser marks as coming from another origin.

This lives in the composition root because the policy belongs to each listener's bind address and to the
`http.allowed_hosts` option, which only the collector knows; receiver/ and console/ stay unaware of it
(console/ still checks its own sign-in form, which must be same-origin whatever serves it).
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from google.rpc import status_pb2

from pdata.hosts import same_origin, split_host

log = logging.getLogger("cc_analytics.http")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Browsers set Sec-Fetch-Site themselves (a page cannot forge it); these two mean "another site's page".
CROSS_SITE = frozenset({"cross-site", "same-site"})
_PERMISSION_DENIED = 7  # google.rpc.Code
_SHOWN_CHARS = 100  # of a refused Host or Origin, in answers and logs


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """The Host names a listener accepts (any port). `any_host` accepts every name."""

    names: frozenset[str]
    any_host: bool = False
    loopback_only: bool = False

    def allows(self, host: str) -> bool:
        if self.any_host or host in self.names:
            return True
        address = _address(host)
        if address is None:
            # A name: the only kind of Host a rebinding page can send, so it must be one of ours.
            return False
        # An address literal cannot be rebound. On loopback only a loopback address can reach the socket.
        return address.is_loopback or not self.loopback_only


def host_policy(bind: str, allowed_hosts: str) -> HostPolicy:
    """The policy of a listener bound to `bind`: `allowed_hosts` (comma-separated names, `*` for any) when
    set, else loopback names only when bound to loopback, any name otherwise. Loopback names are always
    accepted (local health checks and port forwards use them; a rebinding page cannot send them)."""
    listed = frozenset(normalise_host(name) for name in allowed_hosts.split(",") if name.strip())
    loopback = is_loopback_bind(bind)
    if "*" in listed or (not listed and not loopback):
        return HostPolicy(LOOPBACK_NAMES, any_host=True)
    return HostPolicy(LOOPBACK_NAMES | listed, loopback_only=loopback)


def is_loopback_bind(bind: str) -> bool:
    if bind.strip().lower() == "localhost":
        return True
    address = _address(bind)
    return address is not None and address.is_loopback


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def normalise_host(value: str) -> str:
    return "*" if value.strip() == "*" else split_host(value)[0]


def refusal(scope: Scope, policy: HostPolicy, open_paths: frozenset[str] = frozenset()) -> str:
    """Why this request must not be answered; empty when it may. `open_paths` skip the Host check."""
    headers = _headers(scope)
    host = headers.get("host")
    if host is not None and scope.get("path", "") not in open_paths and not policy.allows(split_host(host)[0]):
        return (
            f"Host {host[:_SHOWN_CHARS]!r} is not a name of this collector "
            "(add it to http.allowed_hosts / CC_ANALYTICS_HTTP_ALLOWED_HOSTS)"
        )
    if scope.get("method", "GET") in SAFE_METHODS:
        return ""
    site = headers.get("sec-fetch-site", "").lower()
    if site in CROSS_SITE:
        return f"a post from another site's page is refused (Sec-Fetch-Site: {site})"
    origin = headers.get("origin")
    # "null" is left to the application: browsers send it for their own same-origin form posts under
    # Referrer-Policy: no-referrer, and the console tells those apart from sandboxed frames by its form nonce.
    if origin and origin != "null" and (host is None or not same_origin(origin, host)):
        return f"a post from another origin ({origin[:_SHOWN_CHARS]}) is refused"
    return ""


def _headers(scope: Scope) -> dict[str, str]:
    return {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope.get("headers") or []}


Render = Callable[[Scope, str], tuple[bytes, bytes]]  # (content type, body)


def json_refusal(scope: Scope, reason: str) -> tuple[bytes, bytes]:
    return b"application/json", json.dumps({"error": "forbidden", "message": reason}).encode()


def otlp_refusal(scope: Scope, reason: str) -> tuple[bytes, bytes]:
    """OTLP/HTTP's error body: a google.rpc.Status, as JSON for JSON requests, as protobuf otherwise."""
    content_type = _headers(scope).get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type == "application/json":
        return b"application/json", json.dumps({"code": _PERMISSION_DENIED, "message": reason}).encode()
    status = status_pb2.Status(code=_PERMISSION_DENIED, message=reason)
    return b"application/x-protobuf", status.SerializeToString()


class HostGuard:
    """ASGI middleware: answers 403 with the reason to a request for a foreign Host or a cross-origin post,
    before the application (or its body) is touched."""

    def __init__(
        self,
        app: Asgi,
        policy: HostPolicy,
        listener: str,
        render: Render = json_refusal,
        open_paths: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.policy = policy
        self.listener = listener
        self.render = render
        self.open_paths = frozenset(open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        reason = refusal(scope, self.policy, self.open_paths)
        if not reason:
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        log.info(
            "http.refused",
            extra={
                "fields": {
                    "listener": self.listener,
                    "path": scope.get("path", "")[:_SHOWN_CHARS],
                    "host": headers.get("host", "")[:_SHOWN_CHARS],
                    "origin": headers.get("origin", "")[:_SHOWN_CHARS],
                    "reason": reason,
                }
            },
        )
        content_type, body = self.render(scope, reason)
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-store"),
                    # The body was not read: close rather than leave it to arrive on a kept-alive connection.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
