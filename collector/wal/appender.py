"""The thread that appends accepted requests to the queue and answers them once they are as durable as
queue.fsync says:

- always: each group of requests taken together is fsynced before any of them is answered;
- batch: requests arriving within queue.fsync_interval_ms share one fsync, and are answered after it;
- never: answered once written to the OS (the page cache), without fsync.

A request whose digest is already pending in the queue, was stored within the dedup window, or was refused for
good by the store once drained (collector/deadletter.py `RefusedRequests`), is answered "duplicate" without a
second record; one that would take the queue past queue.max_bytes or its disk below queue.min_free_bytes, or
arrives while the oldest pending record is older than queue.max_age_seconds, is refused with Overloaded (429 /
RESOURCE_EXHAUSTED with a retry hint).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from collector.grouping import STOP, take_group
from collector.wal.codec import encode, summary
from collector.wal.config import QueueConfig
from collector.wal.frame import frame
from collector.wal.log import WriteAheadLog
from pdata import Batch
from pdata.consumer import ConsumeResult, Overloaded, Unavailable

log = logging.getLogger("cc_analytics.queue")

# How long a refused sender should wait: the queue frees space as fast as the store takes it.
RETRY_AFTER_S = 5
_NS_PER_S = 1_000_000_000
_ROOM_SEGMENT_BYTES = 1024 * 1024

Outcome = tuple[Future[ConsumeResult], ConsumeResult | BaseException]


class Appender:
    def __init__(
        self,
        wal: WriteAheadLog,
        config: QueueConfig,
        prepare: Callable[[Batch], Batch],
        stored: Callable[[bytes, int], bool],
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._wal = wal
        self._config = config
        self._prepare = prepare
        # Whether a digest is in the pipeline's dedup window (drained and stored) at a request's arrival time.
        self._stored = stored
        self._clock = clock
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = False
        # The size of the last record refused for want of room (0 once one is taken): readiness asks for room
        # for one like it.
        self._refused_record_bytes = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="queue-appender", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, request: Batch | bytes) -> Future[ConsumeResult]:
        """Queue a request for the append: a receiver's Batch (prepared on the appender's thread), or a record
        payload a receiver worker process already prepared and encoded (collector/workers)."""
        with self._lock:
            if self._closed:
                raise Unavailable("collector is shutting down", retry_after_s=5)
        # Not the disk's room, which the appender may make (_append_one).
        refusal = self._bounds_refusal(0)
        # A retry of a request acknowledged before is answered "duplicate" even while the queue refuses new ones
        # (past queue.max_age_seconds, or full): it takes no room, and its sender need not wait.
        if refusal is not None:
            head = summary(request) if isinstance(request, bytes) else request
            if not self._known(head.digest, head.received_ns):
                raise Overloaded(refusal, RETRY_AFTER_S)
        future: Future[ConsumeResult] = Future()
        self._queue.put((request, future))
        return future

    def _known(self, digest: bytes, received_ns: int) -> bool:
        """Whether a request of `digest` is still queued, stored within the dedup window, or refused for good at
        the drain. Also asked on the receivers' threads: each lookup takes its own lock or is one dict read."""
        return self._wal.is_pending(digest) or self._stored(digest, received_ns)

    def refusal(self, record_bytes: int, make_room: bool = False) -> str | None:
        """Why a record of `record_bytes` cannot be taken now, or None. `make_room`: the appender's own check,
        which may first leave the segment being appended to for room (`_make_room`)."""
        return self._bounds_refusal(record_bytes) or self._disk_refusal(record_bytes, make_room)

    def _bounds_refusal(self, record_bytes: int) -> str | None:
        pending = self._wal.pending_bytes
        if pending and pending + record_bytes > self._config.max_bytes:
            return f"the durable queue is full ({pending} bytes waiting for the store, queue.max_bytes)"
        oldest = self._wal.oldest_received_ns()
        if oldest is not None and self._clock() - oldest > self._config.max_age_seconds * _NS_PER_S:
            age_s = (self._clock() - oldest) // _NS_PER_S
            return f"the durable queue's oldest record has waited {age_s} s for the store (queue.max_age_seconds)"
        return None

    def _disk_refusal(self, record_bytes: int, make_room: bool) -> str | None:
        reserve = self._config.min_free_bytes
        if not reserve:
            return None
        try:
            free = self._wal.free_bytes()
            if make_room and free < 2 * reserve + record_bytes and self._make_room(free, reserve):
                free = self._wal.free_bytes()
        except OSError as exc:
            return f"the durable queue's disk cannot be read: {exc.strerror or exc}"
        if free >= reserve + record_bytes:
            return None
        return (
            f"the durable queue's disk has {free} bytes free, and queue.min_free_bytes keeps {reserve} for what "
            "drains the queue into the store"
        )

    def _make_room(self, free: int, reserve: int) -> bool:
        """Within queue.min_free_bytes of the reserve, leave the segment appended to each time it holds a quarter
        of the reserve (at most 1 MiB): its drained records give their room back well before senders would be
        refused for want of it, and a queue short of room opens a file per that many bytes, not per request.
        True when it was left."""
        try:
            left = self._wal.make_room(min(_ROOM_SEGMENT_BYTES, reserve // 4))
        except OSError as exc:  # the segment left could not be fsynced: the append that follows answers
            log.error("queue.make_room_failed", extra={"fields": {"error": str(exc)}})
            return False
        if left:
            log.warning(
                "queue.disk_short",
                extra={
                    "fields": {
                        "free_bytes": free,
                        "min_free_bytes": reserve,
                        "effect": "drained records give their room back; below queue.min_free_bytes senders get "
                        "429 with a retry hint",
                    }
                },
            )
        return left

    def readiness(self) -> tuple[bool, str]:
        problem = self._wal.directory_problem() or self._wal.space_problem()
        if problem:
            return False, problem
        refusal = self.refusal(self._refused_record_bytes)
        return (False, refusal) if refusal else (True, "")

    def close(self) -> None:
        """Refuse new requests, answer every one already taken, then stop."""
        with self._lock:
            self._closed = True
        self._queue.put(STOP)
        self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            # batch: wait out the fsync interval, so that every request arriving meanwhile shares the fsync.
            linger_s = self._config.fsync_interval_ms / 1000 if self._config.fsync == "batch" else 0.0
            group, stopping = take_group(self._queue, linger_s)
            if group:
                self._answer(self._append(group))

    def _append(self, group: list[tuple[Batch | bytes, Future[ConsumeResult]]]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        appended: set[bytes] = set()
        # Checked once per group, before and after its appends (a stat and an access check each).
        lost = self._wal.directory_problem()
        if lost:
            return self._lost(lost, [future for _, future in group if future.set_running_or_notify_cancel()])
        for request, future in group:
            # A request whose sender went away before this point was never acknowledged: not kept.
            if not future.set_running_or_notify_cancel():
                continue
            try:
                outcomes.append((future, self._append_one(request, appended)))
            except (Overloaded, Unavailable) as exc:
                outcomes.append((future, exc))
            except Exception as exc:  # a bug must not stop the appender; the sender gets a retryable answer
                log.exception("queue.append_failed")
                outcomes.append((future, Unavailable(f"internal error: {type(exc).__name__}")))
        if appended and self._config.fsync != "never":
            try:
                self._wal.sync()
            except OSError as exc:
                # What was written may or may not survive a power failure: the senders retry, and a retry of a
                # record still pending is answered "duplicate", so nothing is counted twice.
                log.error("queue.fsync_failed", extra={"fields": {"error": str(exc)}})
                failure = Unavailable(f"the durable queue cannot fsync: {exc.strerror or exc}")
                outcomes = [(future, failure) for future, _ in outcomes]
        # Appended to files whose directory went away meanwhile: written, and not kept.
        lost = self._wal.directory_problem()
        if lost:
            return self._lost(lost, [future for future, _ in outcomes])
        return outcomes

    @staticmethod
    def _lost(problem: str, futures: list[Future[ConsumeResult]]) -> list[Outcome]:
        """Every request answered 503 / UNAVAILABLE with a retry hint, none acknowledged: the queue's directory
        is not the one a restart reopens (collector/dirguard.py), so its senders keep them for a collector that
        can keep them."""
        failure = Unavailable(problem, retry_after_s=RETRY_AFTER_S)
        return [(future, failure) for future in futures]

    def _append_one(self, request: Batch | bytes, appended: set[bytes]) -> ConsumeResult:
        if isinstance(request, bytes):
            payload: bytes | None = request
            head = summary(request)
            digest, received_ns = head.digest, head.received_ns
        else:
            prepared = self._prepare(request)  # screens `request` itself: its partial success is the answer
            payload, digest, received_ns = None, request.digest, request.received_ns
        if digest in appended or self._known(digest, received_ns):
            return ConsumeResult(duplicate=True)
        if payload is None:
            payload = encode(prepared)
        record = frame(payload)
        refusal = self.refusal(len(record), make_room=True)
        if refusal is not None:
            self._refused_record_bytes = len(record)
            raise Overloaded(refusal, RETRY_AFTER_S)
        try:
            self._wal.append(record, summary(payload))
        except OSError as exc:
            log.error("queue.append_failed", extra={"fields": {"error": str(exc)}})
            raise Unavailable(f"the durable queue cannot write: {exc.strerror or exc}") from None
        appended.add(digest)
        self._refused_record_bytes = 0
        return ConsumeResult()

    @staticmethod
    def _answer(outcomes: list[Outcome]) -> None:
        for future, outcome in outcomes:
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
