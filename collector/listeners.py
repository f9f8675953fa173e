"""The collector's network listeners: HTTP applications served by uvicorn on sockets the collector opens itself,
and the OTLP/gRPC server. The collector process and each receiver worker process (collector/workers) build
their OTLP listeners the same way; with several processes they share the ports (SO_REUSEPORT), and the kernel
spreads new connections among them."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import uvicorn

from collector.connections import ConnectionLimits, ConnectionPlan, protocol_for
from collector.hostguard import HostGuard, host_policy, otlp_refusal
from collector.service import ServiceConfig
from pdata.consumer import Consumer
from receiver.otlp import OtlpReceiverConfig, create_grpc_server, create_http_app
from receiver.otlp.admission import Admission
from receiver.otlp.auth import TokenAuth
from receiver.otlp.observer import IngestObserver

# Bodies of the console, API and /metrics routes (a sign-in form at most); OTLP's is limits.max_request_bytes.
MAX_BODY_BYTES = 1024 * 1024
# A request's start line and headers (h11 answers 400 past it).
_MAX_HEADER_BYTES = 16 * 1024
_BODY_DEADLINE_GRACE_S = 2


class _Server(uvicorn.Server):
    # The collector owns signal handling for all its servers; uvicorn's own would take over SIGTERM.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def listen(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on connections accepted from
    # a socket that says it is TCP. With it on, an answer written in parts on a kept-alive connection waited for
    # the client's delayed ACK: every API read and /metrics scrape after a connection's first took ~40 ms more.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:  # every receiver process binds the same port; the kernel spreads connections among them
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SystemExit(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(1024)
    sock.setblocking(False)
    return sock


@dataclass
class Listeners:
    """HTTP applications on their sockets, and optionally the OTLP/gRPC server; started and stopped together."""

    service: ServiceConfig
    connections: ConnectionPlan
    body_timeout_s: float
    grpc_server: grpc.aio.Server | None = None
    _servers: list[tuple[_Server, socket.socket]] = field(default_factory=list)
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def add(
        self,
        app: Any,
        port: int,
        host: str | None = None,
        listener: str = "",
        max_body_bytes: int = MAX_BODY_BYTES,
        reuse_port: bool = False,
    ) -> None:
        service = self.service
        limits = ConnectionLimits(
            max_connections=self.connections.per_listener,
            header_timeout_s=float(service.header_timeout_seconds),
            # The OTLP receiver answers its own body timeout (in OTLP's format) at the deadline; this one,
            # a little later, holds for every route of every listener.
            body_timeout_s=self.body_timeout_s + _BODY_DEADLINE_GRACE_S,
            max_body_bytes=max_body_bytes,
        )
        uv_config = uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=10,
            http=protocol_for(listener, limits),
            timeout_keep_alive=service.keep_alive_seconds,
            backlog=self.connections.backlog,
            h11_max_incomplete_event_size=_MAX_HEADER_BYTES,
        )
        self._servers.append((_Server(uv_config), listen(host or service.bind, port, reuse_port)))

    def guard(self, app: Any, listener: str, bind: str | None = None, **options: Any) -> HostGuard:
        return HostGuard(app, host_policy(bind or self.service.bind, self.service.allowed_hosts), listener, **options)

    async def start(self) -> None:
        if self.grpc_server is not None:
            await self.grpc_server.start()
        self._tasks.extend(asyncio.create_task(server.serve(sockets=[sock])) for server, sock in self._servers)

    async def stop(self) -> None:
        """In-flight requests are answered (gRPC within 5 s, HTTP within 10 s), then the sockets close."""
        if self.grpc_server is not None:
            await self.grpc_server.stop(grace=5)
        for server, _ in self._servers:
            server.should_exit = True
        await asyncio.gather(*self._tasks, return_exceptions=True)


def add_otlp(
    listeners: Listeners,
    receiver_config: OtlpReceiverConfig,
    auth: TokenAuth,
    consumer: Consumer,
    observer: IngestObserver,
    admission: Admission,
    reuse_port: bool = False,
) -> None:
    """The OTLP/HTTP and OTLP/gRPC receivers, sharing one in-flight budget (`admission`)."""
    otlp_http = create_http_app(receiver_config, auth, consumer, observer, admission)
    listeners.add(
        listeners.guard(otlp_http, "otlp_http", render=otlp_refusal),
        receiver_config.http_port,
        listener="otlp_http",
        # The receiver refuses past the limit itself (413 in OTLP's format); this bounds routes it does not serve.
        max_body_bytes=receiver_config.max_request_bytes + MAX_BODY_BYTES,
        reuse_port=reuse_port,
    )
    try:
        listeners.grpc_server = create_grpc_server(
            receiver_config, auth, consumer, observer, admission, reuse_port=reuse_port
        )
    except RuntimeError:  # grpcio's "Failed to bind to address"
        address = f"{receiver_config.bind}:{receiver_config.grpc_port}"
        raise SystemExit(f"cannot listen on {address}: the address is in use or not available") from None
