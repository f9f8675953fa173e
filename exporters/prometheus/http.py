"""The /metrics endpoint: an ASGI app that renders off the event loop (a scrape never stalls ingestion).

Output is the Prometheus text format 0.0.4: the registry's families (self-metrics, derived gauges) through
prometheus_client, then the Claude Code counters through their fast renderer. gzip when the scraper asks.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class TextSource(Protocol):
    def render_text(self) -> str: ...


def render(registry: CollectorRegistry, sources: Sequence[TextSource]) -> bytes:
    return generate_latest(registry) + "".join(source.render_text() for source in sources).encode()


def create_metrics_app(
    registry: CollectorRegistry, sources: Sequence[TextSource] = ()
) -> Callable[[dict, Any, Any], Any]:
    async def app(scope: dict, receive, send) -> None:
        if scope["type"] != "http":
            return
        if scope.get("path", "/") not in ("/metrics", "/"):
            await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"not found: scrape /metrics\n"})
            return
        headers = dict(scope.get("headers") or [])
        wants_gzip = b"gzip" in headers.get(b"accept-encoding", b"")

        def produce() -> bytes:
            body = render(registry, sources)
            return gzip.compress(body, compresslevel=1) if wants_gzip else body

        body = await asyncio.to_thread(produce)
        response_headers = [(b"content-type", CONTENT_TYPE.encode())]
        if wants_gzip:
            response_headers.append((b"content-encoding", b"gzip"))
        await send({"type": "http.response.start", "status": 200, "headers": response_headers})
        await send({"type": "http.response.body", "body": body})

    return app
