"""The thread that drains the queue into the store, in log order, through the pipeline.

It reads the oldest pending records, hands them to the pipeline all at once (which groups them into large
inserts and runs the processor chain on them in this order: dedup and cumulative→delta see the records in the
order they were appended, against the state the pipeline restored from the store at start-up), waits for each
outcome, then checkpoints after the longest run of records that are done (once no sender was answered for a
second, or while more than a group waits behind the one in the store, it hands the next group over before taking
the outcomes of the one before, so both cores drain):

- stored, or recognised as already stored (a replay after a crash: the pipeline's dedup window, restored from
  the store's rows, knows its digest) → done;
- refused for good by the store (Refused: the pipeline set it aside in the dead-letter file) → done, its digest
  remembered (collector/deadletter.py `RefusedRequests`) so that a sender's retry of it is answered "duplicate",
  not queued again;
- the store could not take it (Unavailable) → retried, the same records in the same order, after a backoff;
  never skipped;
- damaged on disk since it was written → logged as queue.corrupt_record, counted, skipped.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field

from collector.deadletter import RefusedRequests
from collector.wal.codec import decode
from collector.wal.frame import FORMAT_VERSION, Record
from collector.wal.log import RecordRef, WriteAheadLog
from collector.wal.recovery import report_damage
from pdata import Batch
from pdata.consumer import Consumer, ConsumeResult, Overloaded, Refused, Unavailable

log = logging.getLogger("cc_analytics.queue")

_FIRST_BACKOFF_S = 0.5
_MAX_BACKOFF_S = 10.0
# No append for this long: no sender is waiting for an acknowledgement, the drain may take every core.
SENDERS_QUIET_S = 1.0


@dataclass(slots=True, eq=False)
class _Group:
    """Records handed to the pipeline together: their futures, and those done already (read as damaged,
    remembered as done, or settled early when the pipeline was full)."""

    refs: list[RecordRef]
    submitted: list[tuple[RecordRef, Future[ConsumeResult]]] = field(default_factory=list)
    done: set[tuple[int, int]] = field(default_factory=set)
    failed: bool = False


class Drainer:
    def __init__(
        self,
        wal: WriteAheadLog,
        pipeline: Consumer,
        max_group_items: int,
        min_interval_s: float = 0.0,
        senders_quiet_s: float = SENDERS_QUIET_S,
        refused: RefusedRequests | None = None,
    ) -> None:
        self._wal = wal
        self._refused = refused if refused is not None else RefusedRequests()
        self._pipeline = pipeline
        self._max_group_items = max_group_items
        # Each drain is an insert per signal, whose fixed cost (the rollups' views) is paid per insert, not per
        # row: draining at most this often, unless a backlog fills whole groups, keeps inserts few and large.
        self._min_interval_s = min_interval_s
        # Never drained yet, not 0.0: the monotonic clock starts at boot, so 0.0 is "moments ago" on a machine up
        # for less than the interval, and the first drain would wait for it.
        self._last_drain_at = -math.inf
        self._senders_quiet_s = senders_quiet_s
        self._thread = threading.Thread(target=self._run, name="queue-drainer", daemon=True)
        self._wake = threading.Event()
        self._stopping = False
        self._deadline = 0.0
        # Records done after one that must be retried: not handed to the pipeline again.
        self._done: set[tuple[int, int]] = set()
        self.drained_records = 0
        self.replayed_records = 0
        self._last_error = ""

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float) -> None:
        """Drain what the store takes within `timeout_s`, then stop; the rest stays queued for the next start."""
        self._deadline = time.monotonic() + timeout_s
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout_s + 5)

    def _run(self) -> None:
        backoff_s = _FIRST_BACKOFF_S
        retrying = False
        in_flight: _Group | None = None  # handed to the pipeline, outcome not yet taken
        while True:
            if self._stopping and time.monotonic() >= self._deadline and in_flight is None:
                break
            if in_flight is None:
                self._pace()
            # The next group is read, decoded and handed over while the one before is processed and inserted (the
            # store and this thread's Python work go on side by side) once no sender is being answered, or while
            # more than this group waits behind the one in the store. Otherwise each group is settled first: on a
            # few cores, draining back to back would take the CPU the senders' acknowledgements need. But a writer
            # that falls further behind than a group only grows the backlog its tail drains later on part of the
            # cores, alone once the senders stop: the CPU is better spent keeping up.
            skip = len(in_flight.refs) if in_flight else 0
            refs = self._wal.head(self._max_group_items, timeout_s=0.0 if in_flight else 0.2, skip=skip)
            behind = self._wal.pending_records() > skip + len(refs)  # more is pending than this group takes
            if in_flight is not None and not behind and self._senders_answered():
                refs = []
            group = None
            if refs and (in_flight is None or not self._stopping):
                # With more pending than this group takes, the next is taken at once, not after the drain interval.
                self._last_drain_at = -math.inf if behind else time.monotonic()
                group = self._hand_over(refs)
            if in_flight is not None:
                ok = self._settle_group(in_flight, later=group)
                in_flight = None
                if not ok:
                    group = None  # settled with the one before: both are retried from the oldest pending record
                    self._last_drain_at = -math.inf  # the back-off below paces the retry, not the drain interval
                    if not retrying:
                        self._log_waiting()
                        retrying = True
                    if self._stopping:
                        break  # the store does not take them now: they stay queued for the next start
                    self._wake.wait(backoff_s)
                    backoff_s = min(backoff_s * 2, _MAX_BACKOFF_S)
                    continue
                if retrying:
                    log.info("queue.drain_resumed", extra={"fields": {"pending_records": self._wal.pending_records()}})
                backoff_s, retrying = _FIRST_BACKOFF_S, False
            in_flight = group
            if group is None and not refs and self._stopping:
                break

    def _senders_answered(self) -> bool:
        return time.monotonic() - self._wal.last_append_at < self._senders_quiet_s

    def _log_waiting(self) -> None:
        log.warning(
            "queue.drain_waiting",
            extra={
                "fields": {
                    "error": self._last_error,
                    "effect": "records stay queued and are retried in order; senders keep getting 200 while the "
                    "queue has room",
                }
            },
        )

    def _pace(self) -> None:
        wait_s = self._last_drain_at + self._min_interval_s - time.monotonic()
        if wait_s > 0 and not self._stopping:
            self._wake.wait(wait_s)

    def _hand_over(self, refs: list[RecordRef]) -> _Group:
        """Read `refs` and hand them to the pipeline. Every record is read first, then handed over back to back,
        within the pipeline's linger: it takes them as one group (one insert per signal), not as the records it got
        before the next was decoded."""
        group = _Group(refs)
        batches: list[tuple[RecordRef, Batch]] = []
        for ref in refs:
            key = (ref.segment, ref.offset)
            batch = None if key in self._done else self._read(ref)
            if batch is None:
                group.done.add(key)
            else:
                batches.append((ref, batch))
        for ref, batch in batches:
            future = self._submit(batch, group)
            if future is None:
                group.failed = True
                break
            future.add_done_callback(functools.partial(_log_late_refusals, batch, batch.rejected))
            group.submitted.append((ref, future))
        return group

    def _settle_group(self, group: _Group, later: _Group | None) -> bool:
        """Take `group`'s outcomes and checkpoint after those done; True when none has to be retried. When one
        must be, the `later` group handed over meanwhile is settled too: what of it is done is remembered, not
        handed over again, and the rest is retried after the records before it."""
        ok = self._settle(group.submitted, group.done) and not group.failed
        if not ok and later is not None:
            self._settle(later.submitted, later.done)
            group.done |= later.done
        self._checkpoint(group.refs, group.done)
        return ok

    def _read(self, ref: RecordRef) -> Batch | None:
        found = self._wal.read(ref)
        if not isinstance(found, Record) or found.version != FORMAT_VERSION:
            reason = found if isinstance(found, str) else f"format version {found.version}"
            report_damage(ref.segment, reason, ref.offset, ref.size)
            self._wal.corrupt_records += 1
            return None
        try:
            return decode(found.payload)
        except ValueError as exc:
            report_damage(ref.segment, str(exc), ref.offset, ref.size)
            self._wal.corrupt_records += 1
            return None

    def _submit(self, batch: Batch, group: _Group) -> Future[ConsumeResult] | None:
        """The pipeline's future for `batch`; when its own queue is full, wait for what of `group` was handed to
        it first (or, with none, for the group before it). None: the pipeline takes nothing now (closing, or
        what was handed to it failed)."""
        while True:
            try:
                return self._pipeline.consume(batch)
            except Overloaded:
                if not group.submitted:
                    time.sleep(0.05)
                    continue
                settled = self._settle(group.submitted, group.done)
                group.submitted.clear()
                if not settled:
                    return None
            except Unavailable as exc:  # the pipeline is closing
                self._last_error = str(exc)
                return None

    def _settle(self, submitted: list[tuple[RecordRef, Future[ConsumeResult]]], done: set[tuple[int, int]]) -> bool:
        """Wait for each handed record's outcome; True when every one is done."""
        every_one = True
        for ref, future in submitted:
            try:
                future.result()
            except Refused:
                # Set aside in the dead-letter file by the pipeline: retrying would be refused again. Remembered
                # before the checkpoint below drops it from the queue, so its sender's retry stays a duplicate.
                self._refused.add(ref.digest)
            except Exception as exc:  # Unavailable: the store could not take it; anything else is retried too
                every_one = False
                self._last_error = str(exc) or type(exc).__name__
                continue
            done.add((ref.segment, ref.offset))
            self.drained_records += 1
            self.replayed_records += ref.replayed
        return every_one

    def _checkpoint(self, refs: list[RecordRef], done: set[tuple[int, int]]) -> None:
        leading = 0
        for ref in refs:
            if (ref.segment, ref.offset) not in done:
                break
            leading += 1
        checkpointed = {(ref.segment, ref.offset) for ref in refs[:leading]}
        self._done = (self._done | done) - checkpointed
        try:
            self._wal.drained(leading)
        except OSError as exc:
            # The records stay done in memory; a crash before the next checkpoint replays them, recognised.
            log.error("queue.checkpoint_failed", extra={"fields": {"error": str(exc)}})


def _log_late_refusals(batch: Batch, rejected_at_append: int, _: Future[ConsumeResult]) -> None:
    """Points the chain refused at drain time (past temporality.max_series) were acknowledged at append time: the
    sender cannot be told any more, the operator is."""
    if batch.rejected > rejected_at_append:
        log.warning(
            "queue.points_refused_after_ack",
            extra={
                "fields": {
                    "points": batch.rejected - rejected_at_append,
                    "reason": batch.rejected_reason,
                    "effect": "acknowledged at append time, not stored",
                }
            },
        )
