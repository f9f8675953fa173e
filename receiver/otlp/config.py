from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OtlpReceiverConfig:
    bind: str = "127.0.0.1"
    grpc_port: int = 4317
    http_port: int = 4318
    # Applies to the body as sent and, again, to the body once inflated (a gzip bomb stops there).
    max_request_bytes: int = 16 * 1024 * 1024
