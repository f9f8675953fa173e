"""OTLP/gRPC: MetricsService/Export, LogsService/Export and TraceService/Export (OTLP spec, gRPC).

Requests are taken as raw bytes so that a malformed message is answered INVALID_ARGUMENT with the
reason (grpcio's own deserialisation failure would be an opaque INTERNAL).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import grpc
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from pdata.consumer import Consumer
from receiver.otlp.admission import Admission
from receiver.otlp.auth import TokenAuth
from receiver.otlp.config import OtlpReceiverConfig
from receiver.otlp.grpc_guard import CallGuard, authorization
from receiver.otlp.ingest import RequestBounds, Signal, decode_request, deliver
from receiver.otlp.observer import IngestObserver
from receiver.otlp.refusals import REFUSED_ERRORS, grpc_trailers, refusal_for

ExportResponse = ExportMetricsServiceResponse | ExportLogsServiceResponse | ExportTraceServiceResponse
_SERVICES: dict[str, tuple[Signal, type[ExportResponse]]] = {
    "opentelemetry.proto.collector.metrics.v1.MetricsService": ("metrics", ExportMetricsServiceResponse),
    "opentelemetry.proto.collector.logs.v1.LogsService": ("logs", ExportLogsServiceResponse),
    "opentelemetry.proto.collector.trace.v1.TraceService": ("traces", ExportTraceServiceResponse),
}
_IDLE_CONNECTION_MS = 5 * 60 * 1000
# The HTTP/2 receive window each call starts with (grpc-core's stream lookahead, announced as
# SETTINGS_INITIAL_WINDOW_SIZE): what a call sends before the receiver reads its message. Once the message is
# read the window opens to the rest of it, so a large message waits for one window update whatever this is; a
# call not yet read (waiting for a slot, or about to be refused) holds at most this much.
_STREAM_WINDOW_BYTES = 16 * 1024
_REJECTED_FIELD = {"metrics": "rejected_data_points", "logs": "rejected_log_records", "traces": "rejected_spans"}


def create_otlp_grpc_server(
    config: OtlpReceiverConfig,
    auth: TokenAuth,
    consumer: Consumer,
    observer: IngestObserver,
    admission: Admission | None = None,
    reuse_port: bool = False,
) -> grpc.aio.Server:
    """`reuse_port`: several receiver processes serve the port (SO_REUSEPORT); otherwise a port another
    process holds makes the start fail."""
    admission = admission or Admission(config.max_inflight_bytes)
    # Token, calls per connection and the message deadline are checked as a call starts, before its message.
    methods = {f"/{service}/Export": signal for service, (signal, _) in _SERVICES.items()}
    # Calls still waiting for their message, over all connections, hold at most half the call slots.
    waiting_cap = (config.max_concurrent_rpcs + 1) // 2
    guard = CallGuard(
        auth,
        observer,
        methods,
        config.max_calls_per_peer,
        config.body_timeout_s,
        waiting_cap,
        max_calls=config.max_concurrent_rpcs,
    )
    server = grpc.aio.server(
        interceptors=[guard],
        # The guard refuses past max_concurrent_rpcs calls in progress itself, with RetryInfo (OTLP clients
        # retry RESOURCE_EXHAUSTED only with it); grpcio's own cap, which answers without it, sits above so that
        # the guard's refusals (calls too, until they end) never reach it.
        maximum_concurrent_rpcs=hard_call_cap(config.max_concurrent_rpcs),
        options=[
            # grpcio enforces this on the message as sent and after decompression, and answers
            # RESOURCE_EXHAUSTED itself.
            ("grpc.max_receive_message_length", config.max_request_bytes),
            ("grpc.max_send_message_length", 4 * 1024 * 1024),
            # Connections: a cap (further ones are closed at once), a deadline for a new one's HTTP/2
            # handshake, and idle ones (no call for 5 minutes) closed; clients reconnect when they next export.
            ("grpc.max_allowed_incoming_connections", config.max_connections),
            ("grpc.server_handshake_timeout_ms", int(config.header_timeout_s * 1000)),
            ("grpc.max_connection_idle_ms", _IDLE_CONNECTION_MS),
            ("grpc.so_reuseport", int(reuse_port)),
            # With probing, grpc-core widens the windows to what the link carries, and takes in that much of
            # every call's message, including calls the guard is about to refuse (otlp.grpc_bdp_probe).
            ("grpc.http2.bdp_probe", int(config.grpc_bdp_probe)),
            ("grpc.http2.lookahead_bytes", _STREAM_WINDOW_BYTES),
        ],
    )
    handlers = []
    for service, (signal, response_type) in _SERVICES.items():
        handler: grpc.RpcMethodHandler[bytes, bytes] = grpc.unary_unary_rpc_method_handler(
            _export_handler(signal, response_type, auth, consumer, observer, admission, config.max_request_items),
            request_deserializer=None,
            response_serializer=None,
        )
        handlers.append(grpc.method_handlers_generic_handler(service, {"Export": handler}))
    server.add_generic_rpc_handlers(tuple(handlers))
    server.add_insecure_port(f"{_host(config.bind)}:{config.grpc_port}")
    return server


def _host(bind: str) -> str:
    return f"[{bind}]" if ":" in bind and not bind.startswith("[") else bind


def _export_handler(
    signal: Signal,
    response_type: type[ExportResponse],
    auth: TokenAuth,
    consumer: Consumer,
    observer: IngestObserver,
    admission: Admission,
    max_items: int,
) -> Callable[[bytes, grpc.aio.ServicerContext[bytes, bytes]], Awaitable[bytes]]:
    async def export(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        started = time.perf_counter()
        try:
            return await answer(request, context, started)
        except REFUSED_ERRORS as exc:
            refusal = refusal_for(exc)
            status = refusal.answer.status
            observer.request_done("grpc", signal, status, refusal.reason, 0, 0, time.perf_counter() - started)
            await context.abort(refusal.answer.grpc_code, refusal.reason, grpc_trailers(refusal))
            raise  # not reached: abort raises

    async def answer(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes], started: float) -> bytes:
        binding = auth.authenticate(authorization(context.invocation_metadata()))
        # grpcio has already inflated the message (within max_request_bytes): admit its size before decoding.
        ticket = admission.admit(len(request))
        try:
            # Charged its parsed form, then its items' working memory, before any point is built: too many items
            # is refused for good, past the budget with a retry hint.
            bounds = RequestBounds(signal, "protobuf", max_items, ticket, len(request))
            decoded = await decode_request(signal, request, "protobuf", binding.sender, bounds)
            batch = await deliver("grpc", signal, decoded, binding, consumer, ticket, observer, started)
            response = response_type()
            if batch is not None and batch.rejected:
                setattr(response.partial_success, _REJECTED_FIELD[signal], batch.rejected)
                response.partial_success.error_message = batch.rejected_reason
            return response.SerializeToString()
        finally:
            ticket.release()

    return export


def hard_call_cap(max_concurrent_rpcs: int) -> int | None:
    """grpcio's own limit of calls at once: headroom above the guard's, for the calls it is refusing."""
    if not max_concurrent_rpcs:
        return None
    return max_concurrent_rpcs + max(64, max_concurrent_rpcs // 2)
