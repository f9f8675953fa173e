"""Sending one encoded request over OTLP/gRPC or OTLP/HTTP, and reading the answer's status and retry hint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import grpc
import httpx

from loadgen.workload import Request

_GRPC_METHODS = {
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}


@dataclass(slots=True)
class Answer:
    status: str  # "OK" / "200" on success, else the HTTP status, the gRPC code name or the transport error
    ok: bool
    retry_after: str | None = None
    connection_failed: bool = False  # OTLP/HTTP: no connection could be made, or it broke before the answer


class Sender(Protocol):
    async def send(self, request: Request) -> Answer: ...

    async def close(self) -> None: ...


class GrpcSender:
    def __init__(self, url: str, headers: dict[str, str], timeout_s: float, own_connection: bool = False) -> None:
        """own_connection: this sender's channel opens a TCP connection of its own (grpcio otherwise shares one
        among the channels of a process to the same target)."""
        secure = url.startswith("https://")
        target = url.split("://", 1)[-1].rstrip("/")
        options: list[tuple[str, int]] = [("grpc.max_send_message_length", 64 * 1024 * 1024)]
        if own_connection:
            options.append(("grpc.use_local_subchannel_pool", 1))
        self._channel = (
            grpc.aio.secure_channel(target, grpc.ssl_channel_credentials(), options=options)
            if secure
            else grpc.aio.insecure_channel(target, options=options)
        )
        self._methods: dict[str, grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]] = {
            signal: self._channel.unary_unary(path) for signal, path in _GRPC_METHODS.items()
        }
        self._metadata = tuple((key.lower(), value) for key, value in headers.items())
        self._timeout_s = timeout_s

    async def send(self, request: Request) -> Answer:
        try:
            await self._methods[request.signal](request.body, metadata=self._metadata, timeout=self._timeout_s)
            return Answer("OK", True)
        except grpc.aio.AioRpcError as exc:
            trailing = dict(exc.trailing_metadata() or ())
            retry_after = trailing.get("retry-after")
            return Answer(exc.code().name, False, retry_after if isinstance(retry_after, str) else None)

    async def ready(self) -> None:
        """Connect now rather than at the first request."""
        await self._channel.channel_ready()

    async def close(self) -> None:
        await self._channel.close()


class HttpSender:
    def __init__(self, url: str, headers: dict[str, str], timeout_s: float, connections: int) -> None:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self._client = httpx.AsyncClient(base_url=url.rstrip("/"), headers=headers, timeout=timeout_s, limits=limits)

    async def send(self, request: Request) -> Answer:
        try:
            response = await self._client.post(
                f"/v1/{request.signal}", content=request.body, headers={"content-type": request.content_type}
            )
        except httpx.TimeoutException:
            return Answer("timeout", False)
        except httpx.TransportError as exc:
            return Answer(type(exc).__name__, False, connection_failed=True)
        except httpx.HTTPError as exc:
            return Answer(type(exc).__name__, False)
        return Answer(str(response.status_code), response.is_success, response.headers.get("retry-after"))

    async def close(self) -> None:
        await self._client.aclose()
