"""OTLP/HTTP: POST /v1/metrics, /v1/logs, /v1/traces with protobuf or JSON bodies (OTLP spec, HTTP)."""

from __future__ import annotations

import asyncio
import json
import time

from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from pdata.consumer import Consumer, Overloaded, Unavailable
from receiver.otlp.auth import TokenAuth, Unauthenticated
from receiver.otlp.config import OtlpReceiverConfig
from receiver.otlp.decode import DecodeFailure, Encoding
from receiver.otlp.ingest import Signal, TooLarge, decode, inflate
from receiver.otlp.observer import IngestObserver

_CONTENT_TYPES: dict[str, Encoding] = {
    "application/x-protobuf": "protobuf",
    "application/protobuf": "protobuf",
    "application/json": "json",
}


class _Refusal(Exception):
    def __init__(self, status: int, outcome: str, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.outcome = outcome
        self.reason = reason
        self.headers = headers or {}


def create_otlp_http_app(
    config: OtlpReceiverConfig, auth: TokenAuth, consumer: Consumer, observer: IngestObserver
) -> Starlette:
    async def export(request: Request, signal: Signal) -> Response:
        started = time.perf_counter()
        encoding: Encoding = "protobuf"
        try:
            encoding = _encoding_of(request.headers.get("content-type", ""))
            try:
                sender = auth.sender_for(request.headers.get("authorization"))
            except Unauthenticated as exc:
                raise _Refusal(401, "unauthenticated", str(exc), {"WWW-Authenticate": "Bearer"}) from None
            body = await _read_body(request, config.max_request_bytes)
            body = inflate(body, request.headers.get("content-encoding", ""), config.max_request_bytes)
            decoded = await asyncio.to_thread(decode, signal, body, encoding, sender)
            if decoded.batch is None:
                observer.request_done("http", signal, "ok", "spans dropped", 0, decoded.dropped_spans, 0.0)
                return _success(signal, encoding, 0, "")
            batch = decoded.batch
            try:
                result = await asyncio.wrap_future(consumer.consume(batch))
            except Overloaded as exc:
                raise _Refusal(429, "overloaded", str(exc), {"Retry-After": str(exc.retry_after_s)}) from None
            except Unavailable as exc:
                raise _Refusal(503, "unavailable", str(exc), {"Retry-After": str(exc.retry_after_s)}) from None
            status = "duplicate" if result.duplicate else ("partial" if batch.rejected else "ok")
            observer.request_done(
                "http", signal, status, batch.rejected_reason, batch.size, batch.rejected,
                time.perf_counter() - started,
            )  # fmt: skip
            return _success(signal, encoding, batch.rejected, batch.rejected_reason)
        except DecodeFailure as exc:
            return _refuse(signal, encoding, _Refusal(400, "bad_request", str(exc)), observer, started)
        except TooLarge as exc:
            return _refuse(signal, encoding, _Refusal(413, "too_large", str(exc)), observer, started)
        except _Refusal as refusal:
            return _refuse(signal, encoding, refusal, observer, started)

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
        raise _Refusal(
            415,
            "unsupported_media_type",
            f"unsupported Content-Type {media_type or '(none)'!r}: use application/x-protobuf or application/json",
        )
    return encoding


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise TooLarge(f"body of {int(declared)} bytes is over the limit of {limit} bytes")
        except ValueError:
            raise DecodeFailure(f"invalid Content-Length {declared!r}") from None
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"body is over the limit of {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise DecodeFailure("client disconnected before the body was complete") from None
    return b"".join(chunks)


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


_GRPC_CODES = {400: 3, 401: 16, 413: 8, 415: 3, 429: 8, 503: 14}


def _refuse(signal: Signal, encoding: Encoding, refusal: _Refusal, observer: IngestObserver, started: float) -> Response:
    observer.request_done("http", signal, refusal.outcome, refusal.reason, 0, 0, time.perf_counter() - started)
    code = _GRPC_CODES.get(refusal.status, 2)
    if encoding == "json":
        body = json.dumps({"code": code, "message": refusal.reason})
        return Response(body, status_code=refusal.status, media_type="application/json", headers=refusal.headers)
    status = status_pb2.Status(code=code, message=refusal.reason)
    return Response(
        status.SerializeToString(),
        status_code=refusal.status,
        media_type="application/x-protobuf",
        headers=refusal.headers,
    )
