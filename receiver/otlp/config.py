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
