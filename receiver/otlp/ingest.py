"""What both transports share once they hold a request's bytes: inflate, decode, flatten, digest."""

from __future__ import annotations

import hashlib
import time
import zlib
from dataclasses import dataclass
from typing import Literal

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from pdata import Batch, Sender
from receiver.otlp.decode import DecodeFailure, Encoding, decode_logs, decode_metrics, parse_into

Signal = Literal["metrics", "logs", "traces"]


class TooLarge(Exception):
    """The body, as sent or once inflated, is over the configured limit."""


@dataclass(frozen=True, slots=True)
class Decoded:
    batch: Batch | None  # None for traces, which are not stored
    dropped_spans: int = 0


def inflate(body: bytes, encoding: str, limit: int) -> bytes:
    """Undo Content-Encoding, refusing output past `limit` bytes without ever allocating it."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding == "gzip":
        wbits = 16 + zlib.MAX_WBITS
    elif encoding == "deflate":
        wbits = zlib.MAX_WBITS
    else:
        raise DecodeFailure(f"unsupported Content-Encoding {encoding!r}: use gzip, deflate or identity")
    inflater = zlib.decompressobj(wbits)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise DecodeFailure(f"body does not inflate as {encoding}: {exc}") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise TooLarge(f"body inflates past the limit of {limit} bytes")
    if not inflater.eof:
        raise DecodeFailure(f"body is a truncated {encoding} stream")
    return data


def digest_of(signal: str, sender: Sender, body: bytes) -> bytes:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(signal.encode())
    digest.update(b"\x00")
    digest.update(sender.api_key_id.encode())
    digest.update(b"\x00")
    digest.update(sender.organization_id.encode())
    digest.update(b"\x00")
    digest.update(body)
    return digest.digest()


def decode(signal: Signal, body: bytes, encoding: Encoding, sender: Sender) -> Decoded:
    received_ns = time.time_ns()
    if signal == "traces":
        request = ExportTraceServiceRequest()
        parse_into(body, encoding, request)
        spans = sum(len(scope.spans) for resource in request.resource_spans for scope in resource.scope_spans)
        return Decoded(batch=None, dropped_spans=spans)
    digest = digest_of(signal, sender, body)
    batch = Batch(signal=signal, digest=digest, sender=sender, received_ns=received_ns)
    if signal == "metrics":
        batch.points, batch.rejected, batch.rejected_reason = decode_metrics(body, encoding)
    else:
        batch.events, batch.rejected, batch.rejected_reason = decode_logs(body, encoding, received_ns)
    return Decoded(batch=batch)
