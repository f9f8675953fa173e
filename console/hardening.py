"""What every answer of :8080 carries, and how much of a request it reads.

- Headers: `nosniff` everywhere; `Cache-Control: no-store` on everything but the static assets (the pages,
  JSON, CSV and refusals all carry or describe member data); a Content-Security-Policy without inline
  scripts and with `frame-ancestors 'none'`, `X-Frame-Options: DENY` and `Referrer-Policy: no-referrer`
  (the printed login URL carries a token).
- Bodies: no console route takes more than a sign-in form, so a body over `max_bytes` is refused with 413
  before it is read (declared Content-Length), or as soon as the count of its bytes passes the limit
  (chunked), and the connection is closed rather than drained.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.exceptions import HTTPException

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY_BYTES = 4096  # the sign-in form (a token and a nonce) is under 200 bytes

# Plotly.js injects <style> elements at run time, hence 'unsafe-inline' for styles only; never for scripts.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
# Data answers are never documents: nothing may load from them, and no page may frame them.
DATA_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Static assets carry no member data; revalidated (ETag) so an upgrade's new console.js is picked up at once.
STATIC_CACHE = b"no-cache"

_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


def _is_html(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(key.lower() == b"content-type" and value.startswith(b"text/html") for key, value in headers)


def secure_headers(path: str, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`headers` with every missing security header added (a handler's own choice of one is kept)."""
    present = {key.lower() for key, _ in headers}
    added = [(key, value) for key, value in _ALWAYS if key not in present]
    if b"content-security-policy" not in present:
        added.append((b"content-security-policy", (PAGE_CSP if _is_html(headers) else DATA_CSP).encode()))
    if b"cache-control" not in present:
        added.append((b"cache-control", STATIC_CACHE if path.startswith("/static/") else b"no-store"))
    return [*headers, *added]


class SecurityHeaders:
    """ASGI middleware adding the security headers to every response of the wrapped app."""

    def __init__(self, app: Asgi) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": secure_headers(path, list(message.get("headers") or []))}
            await send(message)

        await self.app(scope, receive, send_secured)


class BodyTooLarge(HTTPException):
    def __init__(self, detail: str) -> None:
        # Close: the rest of the body is never read, so the connection cannot carry another request.
        super().__init__(413, detail, headers={"Connection": "close"})


def _declared_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers") or []:
        if key.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return -1
    return None


class BodyLimit:
    """ASGI middleware: a declared body over `max_bytes` gets 413 without the app running; a chunked one is
    counted as the app reads it and refused (BodyTooLarge, answered by Starlette's exception middleware)
    the moment it passes the limit, so at most `max_bytes` plus one chunk is ever held."""

    def __init__(self, app: Asgi, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and (declared < 0 or declared > self.max_bytes):
            reason = (
                f"a request body of {declared} bytes is over this server's limit of {self.max_bytes} bytes"
                if declared >= 0
                else "invalid Content-Length"
            )
            await _answer(send, 413 if declared >= 0 else 400, reason)
            return
        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(f"the request body is over this server's limit of {self.max_bytes} bytes")
            return message

        await self.app(scope, counted_receive, send)


async def _answer(send: Send, status: int, reason: str) -> None:
    body = reason.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
