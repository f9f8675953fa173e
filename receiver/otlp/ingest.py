"""What both transports share once they hold a request's bytes: inflate, decode, flatten, digest, and hand the
batch to the consumer, answering only once it is committed."""

from __future__ import annotations

import asyncio
import hashlib
import time
import zlib
from dataclasses import dataclass
from typing import Literal

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from pdata import Batch, Sender
from pdata.consumer import Consumer
from receiver.otlp.admission import ITEM_BYTES, Ticket, parsing_bytes, working_bytes
from receiver.otlp.auth import Binding
from receiver.otlp.decode import DecodeFailure, Encoding, ItemCheck, decode_logs, decode_metrics, parse_into
from receiver.otlp.decoding.items import message_items
from receiver.otlp.observer import IngestObserver

Signal = Literal["metrics", "logs", "traces"]


class TooLarge(Exception):
    """The body, as sent or once inflated, or its number of items, is over the configured limit."""


_ITEM_NAMES = {"metrics": "data points", "logs": "log records", "traces": "spans"}


@dataclass(slots=True)
class RequestBounds:
    """What one request may hold, charged to its admission `ticket` as it is decoded: its body and parsed form
    (`parsing`, before parsing); once parsed, at most `max_items` data points, log records or spans (else refused
    as too large, for good) and their working memory on top (`check`, before any is built); once decoded, the
    body and items until the answer (`built`). Past the budget it is refused with a retry hint (OverBudget)."""

    signal: Signal
    encoding: Encoding
    max_items: int
    ticket: Ticket
    body_bytes: int
    items: int = 0

    def parsing(self) -> None:
        self.ticket.resize(parsing_bytes(self.encoding, self.body_bytes))

    def check(self, items: int) -> None:
        if items > self.max_items:
            raise TooLarge(
                f"request holds {items} {_ITEM_NAMES[self.signal]}, over the limit of {self.max_items} "
                f"(limits.max_request_items): send smaller batches (behind an OpenTelemetry Collector, set its "
                f"batch processor's send_batch_max_size to {self.max_items} or less)"
            )
        self.items = items
        self.ticket.resize(parsing_bytes(self.encoding, self.body_bytes) + items * ITEM_BYTES[self.signal])

    def built(self) -> None:
        self.ticket.resize(working_bytes(self.signal, self.body_bytes, self.items))


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


def decode(
    signal: Signal, body: bytes, encoding: Encoding, sender: Sender, bounds: RequestBounds | None = None
) -> Decoded:
    """The request's batch; given `bounds`, refused (TooLarge, OverBudget) once parsed if it holds too much."""
    if bounds is None:
        return _decode(signal, body, encoding, sender, None)
    bounds.parsing()
    decoded = _decode(signal, body, encoding, sender, bounds.check)
    bounds.built()  # the parsed form is gone
    return decoded


# Bodies up to this size (Claude Code's own exports are a few KiB) decode in well under a millisecond: on the event
# loop, where a hop to a thread and back would cost more than the decode itself.
INLINE_DECODE_BYTES = 32 * 1024


async def decode_request(
    signal: Signal, body: bytes, encoding: Encoding, sender: Sender, bounds: RequestBounds | None = None
) -> Decoded:
    """`decode`, on the event loop for small bodies and in a thread for larger ones (the loop keeps answering)."""
    if len(body) <= INLINE_DECODE_BYTES:
        return decode(signal, body, encoding, sender, bounds)
    return await asyncio.to_thread(decode, signal, body, encoding, sender, bounds)


def _decode(signal: Signal, body: bytes, encoding: Encoding, sender: Sender, check: ItemCheck | None) -> Decoded:
    received_ns = time.time_ns()
    if signal == "traces":
        request = ExportTraceServiceRequest()
        parse_into(body, encoding, request, check)
        return Decoded(batch=None, dropped_spans=message_items(request))
    digest = digest_of(signal, sender, body)
    batch = Batch(signal=signal, digest=digest, sender=sender, received_ns=received_ns)
    if signal == "metrics":
        batch.points, batch.rejected, batch.rejected_reason = decode_metrics(body, encoding, check)
    else:
        batch.events, batch.rejected, batch.rejected_reason = decode_logs(body, encoding, received_ns, check)
    return Decoded(batch=batch)


async def deliver(
    protocol: str,
    signal: Signal,
    decoded: Decoded,
    binding: Binding,
    consumer: Consumer,
    ticket: Ticket,
    observer: IngestObserver,
    started: float,
) -> Batch | None:
    """Hands a decoded request to the consumer and returns once it is committed, so that the answer never
    acknowledges what is not stored; reports the request's outcome. The batch as screened by the token's
    binding (its `rejected` are answered as partial success), or None when there was nothing to store."""
    if decoded.batch is None:
        observer.request_done(protocol, signal, "ok", "spans dropped", 0, decoded.dropped_spans, 0.0)
        return None
    batch = binding.screen(decoded.batch)  # what the token may not write is refused as partial success
    future = consumer.consume(batch)
    ticket.release_when_done(future)
    result = await asyncio.wrap_future(future)
    status = "duplicate" if result.duplicate else ("partial" if batch.rejected else "ok")
    observer.request_done(
        protocol, signal, status, batch.rejected_reason, batch.size, batch.rejected, time.perf_counter() - started
    )
    return batch
