"""Admission control: a byte budget shared by the gRPC and HTTP receivers, charged each request's working memory.

Every request holds a reservation from admission until its answer: while it waits for a decode thread, is
decoded, waits for the writer and is written. It is first its (inflated) body's size; as it is parsed, the body
and its parsed form (`parsing_bytes`); once its items (data points, log records) are counted, and before any of
them is built, that plus `ITEM_BYTES` per item; once decoded, its working memory until the answer,
`working_bytes`: the body plus `ITEM_BYTES` per item, what its decoded items and the processors' facts made
from them hold. The budget therefore bounds the memory of everything the collector has taken in and not yet
answered. A request that does not fit, on arrival, before it is parsed or once its items are counted, is
refused at once with a retry hint (HTTP 429 + Retry-After, gRPC RESOURCE_EXHAUSTED + RetryInfo) and nothing of
it is kept: it was never acknowledged.

Reservations count bytes actually received, never what a client only declares: an HTTP request is admitted
with nothing and grows with each chunk of its body (a client that declares 16 MiB and stalls holds what it
sent, until the body deadline ends it); a gRPC call is admitted once grpcio holds its whole message. What an
HTTP request declares (Content-Length) is checked on arrival all the same: one that declares more than the
budget has left is refused before its first byte is counted, so that under overload the budget holds requests
that can complete rather than the first bytes of ones bound to be refused.

A request larger than the whole budget (up to `limits.max_request_bytes`) is still admitted when nothing
else is in flight, so every request the size limit allows can eventually get in.

With several receiver processes (`run --workers N`) the budget is the collector's: each process counts what
the others hold (shared_inflight.py).
"""

from __future__ import annotations

import threading
from typing import Any

from receiver.otlp.shared_inflight import SharedInflight

# Bytes one item holds while its request is in flight, besides the body: the decoded point or record and the
# processors' facts made from it. Measured with tracemalloc on Claude Code 2.1.331's own exports
# (receiver/otlp/testdata), decoded as a few-KB request is, one value at a time: 1 677 + 300 B per data point,
# 2 966 + 449 B per log record (ten to a dozen attributes each). Large requests hold their repeated values once
# (decoding/repeats.py) and cost less (about 380 B per point, 230 B per record); items with many more distinct
# attributes cost more (receiver/otlp/README.md, Memory of one request). Spans are not built (they are dropped).
ITEM_BYTES = {"metrics": 2048, "logs": 3584, "traces": 0}
# Bytes a body's parsed form holds per body byte while the request is decoded: the protobuf message (upb) or
# the OTLP/JSON document (orjson). Measured as the resident memory a parse of a 16 MiB request adds in a fresh
# process: protobuf 4.3 for small points or records, 6.0 for points of 44 short attributes, 1.5 for long
# values; JSON 10.3 for small points, 5.4 for long values (a document of empty objects reaches 30).
PARSE_FACTOR = {"protobuf": 6, "json": 10}


def parsing_bytes(encoding: str, body_bytes: int) -> int:
    """What a request holds while its body is parsed: the body and its parsed form."""
    return body_bytes * (1 + PARSE_FACTOR[encoding])


def working_bytes(signal: str, body_bytes: int, items: int) -> int:
    """What a request of `items` data points, log records or spans and a body of `body_bytes` holds once decoded,
    until it is answered."""
    return body_bytes + items * ITEM_BYTES[signal]


class OverBudget(Exception):
    """The in-flight budget has no room for this request: the sender should retry after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Admission:
    """The in-flight byte budget. Thread-safe; reservations are `Ticket`s, released exactly once."""

    def __init__(self, max_inflight_bytes: int, retry_after_s: int = 1, shared: SharedInflight | None = None) -> None:
        self.max_inflight_bytes = max_inflight_bytes
        self.retry_after_s = retry_after_s
        self._shared = shared  # the other receiver processes' slots, and this one's
        self._lock = threading.Lock()
        self._inflight = 0
        self._requests = 0
        self.refused = 0

    @property
    def inflight_bytes(self) -> int:
        return self._inflight

    @property
    def inflight_requests(self) -> int:
        return self._requests

    def admit(self, size: int, expected: int = 0) -> Ticket:
        """Reserve `size` bytes for a new request, or raise OverBudget; also when `expected` bytes (what the
        request declares it will grow to) would not fit now."""
        size = max(0, size)
        with self._lock:
            if not self._fits(max(size, expected), 0):
                self.refused += 1
                raise self._over(max(size, expected))
            self._inflight += size
            self._requests += 1
            self._publish()
        return Ticket(self, size)

    def _elsewhere(self) -> int:
        return self._shared.others() if self._shared is not None else 0

    def _publish(self) -> None:
        if self._shared is not None:
            self._shared.publish(self._inflight)

    def _fits(self, size: int, own: int) -> bool:
        others = self._inflight - own + self._elsewhere()
        return others == 0 or others + size <= self.max_inflight_bytes

    def _over(self, size: int) -> OverBudget:
        return OverBudget(
            f"collector is busy: {self._inflight + self._elsewhere()} bytes of requests in flight, limit "
            f"{self.max_inflight_bytes} "
            f"(this request: {size} bytes); retry after {self.retry_after_s} s",
            self.retry_after_s,
        )

    def _resize(self, ticket: Ticket, size: int) -> None:
        size = max(0, size)
        with self._lock:
            if ticket.released:
                raise RuntimeError("ticket already released")
            if size > ticket.size and not self._fits(size, ticket.size):
                self.refused += 1
                raise self._over(size)
            self._inflight += size - ticket.size
            ticket.size = size
            self._publish()

    def _hold(self, ticket: Ticket) -> None:
        with self._lock:
            if ticket.released:
                raise RuntimeError("ticket already released")
            ticket.holders += 1

    def _release(self, ticket: Ticket) -> None:
        with self._lock:
            if ticket.released:
                return
            ticket.holders -= 1
            if ticket.holders > 0:
                return
            ticket.released = True
            self._inflight -= ticket.size
            self._requests -= 1
            self._publish()


class Ticket:
    """One request's reservation. `resize` when its real size is known (grow may raise OverBudget).

    It is freed when its last holder releases it: the handler, and, once the batch is queued, the batch's
    future (`release_when_done`), so a handler cancelled by its client does not free what the writer holds.
    """

    __slots__ = ("_admission", "size", "released", "holders")

    def __init__(self, admission: Admission, size: int) -> None:
        self._admission = admission
        self.size = size
        self.released = False
        self.holders = 1

    def resize(self, size: int) -> None:
        self._admission._resize(self, size)

    def release(self) -> None:
        self._admission._release(self)

    def release_when_done(self, future: Any) -> None:
        """Keep the reservation until `future` (a concurrent.futures.Future) is resolved too."""
        self._admission._hold(self)
        future.add_done_callback(lambda _: self.release())

    def __enter__(self) -> Ticket:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()
