from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OtlpReceiverConfig:
    bind: str = "127.0.0.1"
    grpc_port: int = 4317
    http_port: int = 4318
    # Applies to the body as sent and, again, to the body once inflated (a gzip bomb stops there).
    max_request_bytes: int = 16 * 1024 * 1024
    # Bytes of (inflated) request bodies taken in and not yet answered, over both transports
    # (receiver.otlp.admission); past it, requests are refused at once with a retry hint.
    max_inflight_bytes: int = 8 * 1024 * 1024
    # gRPC calls handled at once; grpcio refuses more with RESOURCE_EXHAUSTED before reading them.
    max_concurrent_rpcs: int = 256
    # A request's body (HTTP) or message (gRPC) must arrive in full within this long of its headers; else
    # HTTP 408 and the connection is closed, gRPC DEADLINE_EXCEEDED. Nothing of it is kept.
    body_timeout_s: float = 30.0
    # gRPC calls in progress at once on one client connection (a peer); more are refused at once with
    # RESOURCE_EXHAUSTED and a retry hint, so one client cannot take every one of max_concurrent_rpcs.
    max_calls_per_peer: int = 32
    # gRPC connections this listener holds open at once, and how long a new one may take to complete the
    # HTTP/2 handshake (the HTTP listeners' limits are the collector's: collector/connections.py).
    max_connections: int = 1000
    header_timeout_s: float = 10.0
