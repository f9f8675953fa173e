"""OTLP/HTTP: POST /v1/metrics, /v1/logs, /v1/traces with protobuf or JSON bodies (OTLP spec, HTTP)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable
from typing import TypeVar

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from pdata.consumer import Consumer
from receiver.otlp.admission import Admission, OverBudget, Ticket
from receiver.otlp.auth import TokenAuth
from receiver.otlp.config import OtlpReceiverConfig
from receiver.otlp.decode import DecodeFailure, Encoding
from receiver.otlp.ingest import RequestBounds, Signal, TooLarge, decode_request, deliver, inflate
from receiver.otlp.observer import IngestObserver
from receiver.otlp.refusals import REFUSED_ERRORS, Refusal, http_body, http_headers, refusal_for

_T = TypeVar("_T")

_CONTENT_TYPES: dict[str, Encoding] = {
    "application/x-protobuf": "protobuf",
    "application/protobuf": "protobuf",
    "application/json": "json",
}


def create_otlp_http_app(
    config: OtlpReceiverConfig,
    auth: TokenAuth,
    consumer: Consumer,
    observer: IngestObserver,
    admission: Admission | None = None,
) -> Starlette:
    admission = admission or Admission(config.max_inflight_bytes)

    async def export(request: Request, signal: Signal) -> Response:
        started = time.perf_counter()
        encoding: Encoding = "protobuf"
        ticket: Ticket | None = None
        try:
            encoding = _encoding_of(request.headers.get("content-type", ""))
            binding = auth.authenticate(request.headers.get("authorization"))
            # Admission before the body is kept. The reservation grows with the bytes that actually arrive, then
            # to the inflated size: a declared Content-Length holds nothing, so a client that declares 16 MiB
            # and stalls cannot shut others out (and the body deadline ends it). It is checked, though: a request
            # that declares more than the budget has left is refused at once, so that under overload the bytes
            # of requests bound to be refused do not take the room of those that fit.
            declared = _declared_length(request, config.max_request_bytes)
            try:
                ticket = admission.admit(0, declared or 0)
            except OverBudget:
                await _in_time(_drain(request, config.max_request_bytes), config.body_timeout_s)
                raise
            body = await _in_time(_read_body(request, config.max_request_bytes, ticket), config.body_timeout_s)
            body = inflate(body, request.headers.get("content-encoding", ""), config.max_request_bytes)
            ticket.resize(len(body))
            # The ticket grows to the body's parsed form before parsing, and to its items' working memory once
            # they are counted, before any point is built: too many items is 413, past the budget 429.
            bounds = RequestBounds(signal, encoding, config.max_request_items, ticket, len(body))
            decoded = await decode_request(signal, body, encoding, binding.sender, bounds)
            del body
            batch = await deliver("http", signal, decoded, binding, consumer, ticket, observer, started)
            if batch is None:
                return _success(signal, encoding, 0, "")
            return _success(signal, encoding, batch.rejected, batch.rejected_reason)
        except REFUSED_ERRORS as exc:
            return _refuse(signal, encoding, refusal_for(exc), observer, started)
        except Refusal as refusal:
            return _refuse(signal, encoding, refusal, observer, started)
        finally:
            if ticket is not None:
                ticket.release()

    async def metrics(request: Request) -> Response:
        return await export(request, "metrics")

    async def logs(request: Request) -> Response:
        return await export(request, "logs")

    async def traces(request: Request) -> Response:
        return await export(request, "traces")

    return Starlette(
        routes=[
            Route("/v1/metrics", metrics, methods=["POST"]),
            Route("/v1/logs", logs, methods=["POST"]),
            Route("/v1/traces", traces, methods=["POST"]),
        ]
    )


def _encoding_of(content_type: str) -> Encoding:
    media_type = content_type.split(";", 1)[0].strip().lower()
    encoding = _CONTENT_TYPES.get(media_type)
    if encoding is None:
        raise Refusal(
            "unsupported_media_type",
            f"unsupported Content-Type {media_type or '(none)'!r}: use application/x-protobuf or application/json",
        )
    return encoding


async def _in_time(reading: Awaitable[_T], seconds: float) -> _T:
    """`reading` (of a request's body) if it completes within `seconds`; else 408, and the connection is closed
    (a client that stalls mid-body has nothing more to say on it)."""
    try:
        async with asyncio.timeout(seconds):
            return await reading
    except TimeoutError:
        reason = f"request body not received within {seconds:g} s"
        raise Refusal("body_timeout", reason) from None


def _declared_length(request: Request, limit: int) -> int | None:
    declared = request.headers.get("content-length")
    if declared is None:
        return None
    try:
        length = int(declared)
    except ValueError:
        raise DecodeFailure(f"invalid Content-Length {declared!r}") from None
    if length > limit:
        raise TooLarge(f"body of {length} bytes is over the limit of {limit} bytes")
    return length


async def _read_body(request: Request, limit: int, ticket: Ticket) -> bytes:
    """The body, its reservation grown with each chunk as it arrives (never by what the client only declared)."""
    chunks: list[bytes] = []
    size = 0
    refused: OverBudget | None = None
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                if refused is not None:
                    break  # refused anyway: stop reading
                raise TooLarge(f"body is over the limit of {limit} bytes")
            if refused is not None:
                continue  # drained, not kept
            if size > ticket.size:
                try:
                    ticket.resize(size)
                except OverBudget as exc:
                    refused = exc
                    chunks.clear()
                    continue
            chunks.append(chunk)
    except ClientDisconnect:
        raise DecodeFailure("client disconnected before the body was complete") from None
    if refused is not None:
        raise refused
    return b"".join(chunks)


async def _drain(request: Request, limit: int) -> None:
    """Read and drop the rest of a refused request's body, so the client reads the answer instead of a
    connection reset; nothing is kept."""
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return
    except ClientDisconnect:
        return


_RESPONSES = {
    "metrics": (ExportMetricsServiceResponse, "rejected_data_points", "rejectedDataPoints"),
    "logs": (ExportLogsServiceResponse, "rejected_log_records", "rejectedLogRecords"),
    "traces": (ExportTraceServiceResponse, "rejected_spans", "rejectedSpans"),
}


def _success(signal: Signal, encoding: Encoding, rejected: int, reason: str) -> Response:
    message_type, field, json_field = _RESPONSES[signal]
    if encoding == "json":
        document: dict = {}
        if rejected:
            document["partialSuccess"] = {json_field: str(rejected), "errorMessage": reason}
        return Response(json.dumps(document), media_type="application/json")
    message = message_type()
    if rejected:
        setattr(message.partial_success, field, rejected)
        message.partial_success.error_message = reason
    return Response(message.SerializeToString(), media_type="application/x-protobuf")


def _refuse(signal: Signal, encoding: Encoding, refusal: Refusal, observer: IngestObserver, started: float) -> Response:
    answer = refusal.answer
    observer.request_done("http", signal, answer.status, refusal.reason, 0, 0, time.perf_counter() - started)
    media_type = "application/json" if encoding == "json" else "application/x-protobuf"
    return Response(
        http_body(refusal, encoding == "json"),
        status_code=answer.http_status,
        media_type=media_type,
        headers=http_headers(refusal),
    )
