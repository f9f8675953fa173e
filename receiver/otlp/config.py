from __future__ import annotations

from dataclasses import dataclass

from pdata.options import Option, OptionValues, check_port, require_at_least, require_one_of

# The receiver's rows of the collector's option table (README.md). `bind`, `limits.max_connections` and
# `limits.header_timeout_seconds` are the collector's (they hold for every listener); the receiver reads them.
OPTIONS: tuple[Option, ...] = (
    Option("otlp.grpc_port", int, 4317, "OTLP/gRPC port"),
    Option("otlp.http_port", int, 4318, "OTLP/HTTP port"),
    Option("otlp.grpc_bdp_probe", bool, False, "let gRPC grow each connection's HTTP/2 receive windows to the measured bandwidth-delay product (BDP probing): faster for a distant gateway sending large batches on a few connections, but what those windows let in is taken into memory before the call caps can refuse a call (at 2× overload ~35 MB more in the worker holding a gateway's connection, receiver/otlp/README.md, gRPC windows); off: a call's window stays at 16 KiB until its message is read"),
    Option("limits.max_request_bytes", int, 4 * 1024 * 1024, "largest request body, as sent and once inflated (4 MiB: gRPC's and the OpenTelemetry Collector's default; a request's parse costs up to 30× its body, see receiver/otlp/README.md, Memory of one request)"),
    Option("limits.max_request_items", int, 20_000, "most data points, log records or spans one request may hold; a request with more is refused as a whole with 413 / RESOURCE_EXHAUSTED (no retry hint: send smaller batches, e.g. an OpenTelemetry Collector's batch processor send_batch_max_size), counted once parsed and before any point is built"),
    Option("limits.max_inflight_bytes", int, 64 * 1024 * 1024, "working memory of the requests taken in and not yet answered, over gRPC and HTTP and every receiver process (--workers): each counts its (inflated) body as it arrives, its body and parsed form while it is parsed (7× a protobuf body, 11× a JSON one), then its body plus 2 KiB per data point and 3.5 KiB per log record until answered; past it requests are refused at once with 429 / RESOURCE_EXHAUSTED and a retry hint (one request larger than this is still taken when nothing else is in flight). 64 MiB holds as many Claude Code exports (about 27 KB each so counted) as 8 MiB of bodies did, and one request of limits.max_request_items beside them"),
    Option("limits.max_concurrent_rpcs", int, 256, "gRPC calls in progress at once; more are refused at once with RESOURCE_EXHAUSTED and a retry hint, which OTLP clients need to retry (grpcio's own cap, answering without one, sits above it for the calls being refused) (0: no cap)"),
    Option("limits.max_calls_per_peer", int, 32, "gRPC calls in progress at once on one client connection; more are refused at once with RESOURCE_EXHAUSTED and a retry hint, so one client cannot take every call slot (0: no cap)"),
    Option("limits.body_timeout_seconds", int, 30, "a request's body (HTTP) or message (gRPC) must arrive in full within this many seconds of its headers, else 408 / DEADLINE_EXCEEDED and nothing of it is kept"),
    Option("auth.tokens_file", str, "", "YAML file of ingest tokens (token or sha256, name, api_key_id, organization_id, allowed_email_domains); re-read when it changes"),
    Option("auth.require_token", str, "auto", "true, false, or auto (required when a tokens file is set, even one listing no token)"),
    Option("auth.organization_mismatch", str, "refuse", "a point or record whose organization.id is not its ingest token's organization: refuse (partial success with the reason) or override (counted in the token's organization)"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class OtlpReceiverConfig:
    bind: str = "127.0.0.1"
    grpc_port: int = 4317
    http_port: int = 4318
    # gRPC's HTTP/2 window autotuning: off keeps what a stalled or refused call can have sent small.
    grpc_bdp_probe: bool = False
    # Applies to the body as sent and, again, to the body once inflated (a gzip bomb stops there).
    max_request_bytes: int = 4 * 1024 * 1024
    # Data points, log records or spans one request may hold (counted once parsed, before anything is built);
    # past it the request is refused as too large, for good.
    max_request_items: int = 20_000
    # Working memory of the requests taken in and not yet answered, over both transports
    # (receiver.otlp.admission: body, then body + items × ITEM_BYTES); past it, requests are refused at once
    # with a retry hint.
    max_inflight_bytes: int = 64 * 1024 * 1024
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
    # Ingest tokens (receiver.otlp.auth.TokenAuth): the tokens file ("" = none), whether a token is required
    # (auto: when a tokens file is set) and what to do with a point of another organization than its token's.
    tokens_file: str = ""
    require_token: str = "auto"
    organization_mismatch: str = "refuse"

    @classmethod
    def from_options(cls, values: OptionValues) -> OtlpReceiverConfig:
        return cls(
            bind=values["bind"],
            grpc_port=values["otlp.grpc_port"],
            http_port=values["otlp.http_port"],
            grpc_bdp_probe=values["otlp.grpc_bdp_probe"],
            max_request_bytes=values["limits.max_request_bytes"],
            max_request_items=values["limits.max_request_items"],
            max_inflight_bytes=values["limits.max_inflight_bytes"],
            max_concurrent_rpcs=values["limits.max_concurrent_rpcs"],
            body_timeout_s=float(values["limits.body_timeout_seconds"]),
            max_calls_per_peer=values["limits.max_calls_per_peer"],
            max_connections=values["limits.max_connections"],
            header_timeout_s=float(values["limits.header_timeout_seconds"]),
            tokens_file=values["auth.tokens_file"],
            require_token=values["auth.require_token"],
            organization_mismatch=values["auth.organization_mismatch"],
        )

    def validate(self) -> None:
        """Raises ConfigError naming the option and what is wrong."""
        check_port("otlp_grpc_port", self.grpc_port)
        check_port("otlp_http_port", self.http_port)
        require_at_least("limits.max_request_bytes", self.max_request_bytes, 1024)
        require_at_least("limits.max_request_items", self.max_request_items, 1)
        require_at_least("limits.max_inflight_bytes", self.max_inflight_bytes, 1024)
        require_at_least("limits.max_concurrent_rpcs", self.max_concurrent_rpcs, 0, "no cap")
        require_at_least("limits.max_calls_per_peer", self.max_calls_per_peer, 0, "no cap")
        require_at_least("limits.body_timeout_seconds", self.body_timeout_s, 1)
        require_one_of("auth.require_token", self.require_token, ("auto", "true", "false"))
        require_one_of("auth.organization_mismatch", self.organization_mismatch, ("refuse", "override"))
