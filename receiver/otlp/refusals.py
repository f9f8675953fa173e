"""Every refusal the OTLP receiver answers, in one table both transports read: the HTTP status, the gRPC code,
whether the sender is told to retry (and when), and the `status` label of cc_analytics_otlp_requests_total.

A refusal without a retry hint is permanent: OTLP senders drop the request instead of sending it again (HTTP
400/401/408/413/415 and gRPC INVALID_ARGUMENT, UNAUTHENTICATED, DEADLINE_EXCEEDED mean "do not retry as is").
Only what may succeed later carries one: the collector is busy (429 / RESOURCE_EXHAUSTED) or the store cannot
be reached (503 / UNAVAILABLE). A request the store refused while it answered is permanent: sent again, it
would be refused again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

import grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2

from pdata.consumer import Overloaded, Refused, Unavailable
from receiver.otlp.admission import OverBudget
from receiver.otlp.auth import Unauthenticated
from receiver.otlp.decode import DecodeFailure
from receiver.otlp.ingest import TooLarge

Kind = Literal[
    "bad_request",
    "body_timeout",
    "too_large",
    "unauthenticated",
    "unsupported_media_type",
    "overloaded",
    "unavailable",
    "refused_by_store",
]


@dataclass(frozen=True, slots=True)
class Answer:
    http_status: int
    grpc_code: grpc.StatusCode
    retry: bool  # Retry-After / RetryInfo with the delay the refusal carries
    status: str  # the `status` label of cc_analytics_otlp_requests_total
    http_headers: dict[str, str] = field(default_factory=dict)

    @property
    def rpc_code(self) -> int:
        """The google.rpc.Code of the error body an HTTP answer carries."""
        return int(self.grpc_code.value[0])


ANSWERS: dict[Kind, Answer] = {
    # Malformed body, bad Content-Encoding or Content-Length, a call that ended without its message.
    "bad_request": Answer(400, grpc.StatusCode.INVALID_ARGUMENT, False, "bad_request"),
    # The body (HTTP) or the message (gRPC) did not arrive within limits.body_timeout_seconds: the connection
    # has nothing more to say, so HTTP closes it.
    "body_timeout": Answer(408, grpc.StatusCode.DEADLINE_EXCEEDED, False, "bad_request", {"Connection": "close"}),
    # Over limits.max_request_bytes as sent or once inflated (grpcio answers gRPC's own, before the handler).
    "too_large": Answer(413, grpc.StatusCode.RESOURCE_EXHAUSTED, False, "too_large"),
    "unauthenticated": Answer(
        401, grpc.StatusCode.UNAUTHENTICATED, False, "unauthenticated", {"WWW-Authenticate": "Bearer"}
    ),
    # HTTP only (gRPC has one content type).
    "unsupported_media_type": Answer(415, grpc.StatusCode.INVALID_ARGUMENT, False, "unsupported_media_type"),
    # Over the in-flight byte budget, the write queue full, or a gRPC connection past its calls in progress.
    "overloaded": Answer(429, grpc.StatusCode.RESOURCE_EXHAUSTED, True, "overloaded"),
    # The store cannot be reached (or cannot keep what it is given now), or the collector is stopping.
    "unavailable": Answer(503, grpc.StatusCode.UNAVAILABLE, True, "unavailable"),
    # The store answered and refused this request's data (a value, a constraint, the schema): nothing was
    # kept, the batch was set aside in the dead-letter file, and the same bytes would be refused again.
    "refused_by_store": Answer(400, grpc.StatusCode.INVALID_ARGUMENT, False, "refused_by_store"),
}


class Refusal(Exception):
    """A request the receiver answers with an error: its kind (a row of ANSWERS), the reason the sender reads,
    and, for a kind that carries a retry hint, the delay."""

    def __init__(self, kind: Kind, reason: str, retry_after_s: int = 1) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.answer = ANSWERS[kind]
        self.retry_after_s = retry_after_s if self.answer.retry else None


# What the receiver's parts raise, and the refusal each one is answered with.
_KINDS: tuple[tuple[type[Exception], Kind], ...] = (
    (DecodeFailure, "bad_request"),
    (TooLarge, "too_large"),
    (Unauthenticated, "unauthenticated"),
    (OverBudget, "overloaded"),
    (Overloaded, "overloaded"),
    (Unavailable, "unavailable"),
    (Refused, "refused_by_store"),
)
REFUSED_ERRORS: tuple[type[Exception], ...] = tuple(error for error, _ in _KINDS)


def refusal_for(error: Exception) -> Refusal:
    """The refusal that answers `error` (one of REFUSED_ERRORS)."""
    for error_type, kind in _KINDS:
        if isinstance(error, error_type):
            return Refusal(kind, str(error), getattr(error, "retry_after_s", 1))
    raise TypeError(f"no refusal answers {type(error).__name__}")


def retry_status(code: int, message: str, retry_after_s: int) -> status_pb2.Status:
    """A google.rpc.Status carrying RetryInfo: OTLP clients retry RESOURCE_EXHAUSTED only with it."""
    status = status_pb2.Status(code=code, message=message)
    info = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=retry_after_s))
    status.details.add().Pack(info)
    return status


def retry_status_json(code: int, message: str, retry_after_s: int) -> dict:
    """The same Status in proto3 JSON form (OTLP/HTTP JSON error bodies)."""
    return {
        "code": code,
        "message": message,
        "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_after_s}s"}],
    }


def http_headers(refusal: Refusal) -> dict[str, str]:
    headers = dict(refusal.answer.http_headers)
    if refusal.retry_after_s is not None:
        headers["Retry-After"] = str(refusal.retry_after_s)
    return headers


def http_body(refusal: Refusal, json_encoding: bool) -> bytes:
    """The google.rpc.Status of an OTLP/HTTP error answer, in the request's encoding (with RetryInfo when the
    sender should retry)."""
    code = refusal.answer.rpc_code
    if json_encoding:
        document: dict = {"code": code, "message": refusal.reason}
        if refusal.retry_after_s is not None:
            document = retry_status_json(code, refusal.reason, refusal.retry_after_s)
        return json.dumps(document).encode()
    if refusal.retry_after_s is not None:
        return retry_status(code, refusal.reason, refusal.retry_after_s).SerializeToString()
    return status_pb2.Status(code=code, message=refusal.reason).SerializeToString()


def retry_trailers(code: grpc.StatusCode, reason: str, retry_after_s: int) -> tuple[tuple[str, str | bytes], ...]:
    """`retry-after`, and RetryInfo both as a google.rpc.Status detail (grpc-status-details-bin, what the OTLP
    spec means) and as `google.rpc.retryinfo-bin` (what the OpenTelemetry Python exporter reads)."""
    status = retry_status(code.value[0], reason, retry_after_s)
    return (
        ("retry-after", str(retry_after_s)),
        ("grpc-status-details-bin", status.SerializeToString()),
        ("google.rpc.retryinfo-bin", status.details[0].value),
    )


def grpc_trailers(refusal: Refusal) -> tuple[tuple[str, str | bytes], ...]:
    """The trailing metadata of a gRPC refusal: the retry hint when the sender should retry, else none."""
    if refusal.retry_after_s is None:
        return ()
    return retry_trailers(refusal.answer.grpc_code, refusal.reason, refusal.retry_after_s)
