"""The /metrics endpoint: an ASGI app that renders off the event loop (a scrape never stalls ingestion).

Format (exposition.py): the text format 0.0.4; OpenMetrics instead when it is enabled and the scraper's Accept
asks for it. gzip when the scraper asks. With a scrape token set, a request must carry it as a bearer token
(`Authorization: Bearer <token>`) or as the password of HTTP basic auth (any user name), the two ways
Prometheus' scrape configs send credentials (`authorization.credentials_file`, `basic_auth.password_file`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import gzip
import hmac
from collections.abc import Callable, Sequence
from typing import Any

from exporters.prometheus.exposition import (
    OPENMETRICS_CONTENT_TYPE,
    TEXT_CONTENT_TYPE,
    RegistryView,
    TextSource,
    render,
    wants_openmetrics,
)


def authorized(header: bytes, token: str) -> bool:
    """Whether an Authorization header carries the scrape token (bearer, or basic auth's password)."""
    scheme, _, credentials = header.decode("latin-1").strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer":
        return hmac.compare_digest(credentials.encode(), token.encode())
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        _, _, password = decoded.partition(":")
        return hmac.compare_digest(password.encode(), token.encode())
    return False


async def _answer(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_metrics_app(
    view: RegistryView, sources: Sequence[TextSource] = (), token: str = "", openmetrics_enabled: bool = False
) -> Callable[[dict, Any, Any], Any]:
    async def app(scope: dict, receive, send) -> None:
        if scope["type"] != "http":
            return
        if scope.get("path", "/") not in ("/metrics", "/"):
            await _answer(send, 404, b"not found: scrape /metrics\n", [(b"content-type", b"text/plain")])
            return
        headers = dict(scope.get("headers") or [])
        if token and not authorized(headers.get(b"authorization", b""), token):
            challenge = [(b"content-type", b"text/plain"), (b"www-authenticate", b'Bearer realm="metrics"')]
            await _answer(send, 401, b"unauthorized: this /metrics needs the scrape token\n", challenge)
            return
        wants_gzip = b"gzip" in headers.get(b"accept-encoding", b"")
        openmetrics = openmetrics_enabled and wants_openmetrics(headers.get(b"accept", b"").decode("latin-1"))

        def produce() -> bytes:
            body = render(view, sources, openmetrics)
            return gzip.compress(body, compresslevel=1) if wants_gzip else body

        body = await asyncio.to_thread(produce)
        content_type = OPENMETRICS_CONTENT_TYPE if openmetrics else TEXT_CONTENT_TYPE
        response_headers = [(b"content-type", content_type.encode())]
        if wants_gzip:
            response_headers.append((b"content-encoding", b"gzip"))
        await _answer(send, 200, body, response_headers)

    return app
