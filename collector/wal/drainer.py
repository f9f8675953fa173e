"""The thread that drains the queue into the store, in log order, through the pipeline.

It reads the oldest pending records, hands them to the pipeline all at once (which groups them into large
inserts and runs the processor chain on them in this order: dedup and cumulative→delta see the records in the
order they were appended, against the state the pipeline restored from the store at start-up), and while the
pipeline writes them reads and hands over the group after them; then it waits for each outcome of the first
group and checkpoints after the longest run of its records that are done:

- stored, or recognised as already stored (a replay after a crash: the pipeline's dedup window, restored from
  the store's rows, knows its digest) → done;
- refused for good by the store (Refused: the pipeline set it aside in the dead-letter file) → done;
- the store could not take it (Unavailable) → retried, the same records in the same order, after a backoff;
  never skipped;
- damaged on disk since it was written → logged as queue.corrupt_record, counted, skipped.

When a group has a record to retry, the outcomes of the group handed after it are only remembered (done records
are not handed again), and the drain starts again from the oldest pending record.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field

from collector.wal.codec import decode
from collector.wal.frame import FORMAT_VERSION, Record
from collector.wal.log import RecordRef, WriteAheadLog
from collector.wal.recovery import report_damage
from pdata import Batch
from pdata.consumer import Consumer, ConsumeResult, Overloaded, Refused, Unavailable

log = logging.getLogger("cc_analytics.queue")

_FIRST_BACKOFF_S = 0.5
_MAX_BACKOFF_S = 10.0


Submitted = list[tuple[RecordRef, Future[ConsumeResult]]]


@dataclass(slots=True)
class _Handed:
    """A group of records handed to the pipeline, in log order; `done`: those with their outcome already known."""

    refs: list[RecordRef]
    submitted: Submitted = field(default_factory=list)
    done: set[tuple[int, int]] = field(default_factory=set)
    failed: bool = False  # the pipeline took only part of it
    full: bool = False  # as large as a group may be: more is waiting behind it


class Drainer:
    def __init__(
        self, wal: WriteAheadLog, pipeline: Consumer, max_group_items: int, min_interval_s: float = 0.0
    ) -> None:
        self._wal = wal
        self._pipeline = pipeline
        self._max_group_items = max_group_items
        # Each drain is an insert per signal, whose fixed cost (the rollups' views) is paid per insert, not per
        # row: draining at most this often, unless a backlog fills whole groups, keeps inserts few and large.
        self._min_interval_s = min_interval_s
        self._last_drain_at = 0.0
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
        ahead: _Handed | None = None  # handed to the pipeline, outcomes not yet awaited
        while True:
            if self._stopping and time.monotonic() >= self._deadline:
                break  # what is not checkpointed is drained again at the next start, recognised as stored
            if ahead is None:
                self._pace()
                refs = self._wal.head(self._max_group_items, timeout_s=0.2)
            elif ahead.full:  # a backlog: what follows it is read while it is written
                refs = self._wal.head(self._max_group_items, timeout_s=0.0, skip=len(ahead.refs))
            else:  # what arrives meanwhile waits for the next drain, to make one large insert
                refs = []
            handed = None
            if refs:
                self._last_drain_at = time.monotonic()
                handed = self._hand(refs, len(ahead.refs) if ahead is not None else 0)
                if handed.full:
                    self._last_drain_at = 0.0  # a backlog: the next group is already full, take it at once
            if ahead is None:
                if handed is None:
                    if self._stopping:
                        break
                    continue
                ahead, handed = handed, None
                if not ahead.failed:
                    continue  # the next group is read and handed over while the pipeline writes this one
            if self._settle_group(ahead):
                if retrying:
                    log.info("queue.drain_resumed", extra={"fields": {"pending_records": self._wal.pending_records()}})
                backoff_s, retrying = _FIRST_BACKOFF_S, False
                ahead = handed
                continue
            if handed is not None:
                # Handed after a record to retry: the outcomes are kept, the drain starts again from the oldest.
                self._settle(handed.submitted, handed.done)
                self._done |= handed.done
            ahead = None
            if not retrying:
                log.warning(
                    "queue.drain_waiting",
                    extra={
                        "fields": {
                            "error": self._last_error,
                            "effect": "records stay queued and are retried in order; senders keep getting 200 "
                            "while the queue has room",
                        }
                    },
                )
                retrying = True
            if self._stopping:
                break  # the store does not take them now: they stay queued for the next start
            self._wake.wait(backoff_s)
            backoff_s = min(backoff_s * 2, _MAX_BACKOFF_S)

    def _pace(self) -> None:
        wait_s = self._last_drain_at + self._min_interval_s - time.monotonic()
        if wait_s > 0 and not self._stopping:
            self._wake.wait(wait_s)

    def _hand(self, refs: list[RecordRef], skip: int) -> _Handed:
        """Read `refs` and hand them to the pipeline, without waiting for their outcomes."""
        # Full: head() stopped at max_group_items with more records pending behind the group (a backlog).
        handed = _Handed(refs, full=self._wal.pending_records() > skip + len(refs))
        for ref in refs:
            key = (ref.segment, ref.offset)
            if key in self._done:
                handed.done.add(key)
                continue
            batch = self._read(ref)
            if batch is None:
                handed.done.add(key)
                continue
            future = self._submit(batch, handed.submitted, handed.done)
            if future is None:
                handed.failed = True
                break
            future.add_done_callback(functools.partial(_log_late_refusals, batch, batch.rejected))
            handed.submitted.append((ref, future))
        return handed

    def _settle_group(self, handed: _Handed) -> bool:
        """Wait for the outcomes of `handed` (the oldest pending records) and checkpoint after those done; True
        when none has to be retried."""
        failed = not self._settle(handed.submitted, handed.done) or handed.failed
        self._checkpoint(handed.refs, handed.done)
        return not failed

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

    def _submit(self, batch: Batch, submitted: Submitted, done: set[tuple[int, int]]) -> Future[ConsumeResult] | None:
        """The pipeline's future for `batch`; when its own queue is full, wait for what was handed to it first.
        None: the pipeline takes nothing now (closing, or what was handed to it failed)."""
        while True:
            try:
                return self._pipeline.consume(batch)
            except Overloaded:
                if not submitted:
                    time.sleep(0.05)
                    continue
                settled = self._settle(submitted, done)
                submitted.clear()
                if not settled:
                    return None
            except Unavailable as exc:  # the pipeline is closing
                self._last_error = str(exc)
                return None

    def _settle(self, submitted: Submitted, done: set[tuple[int, int]]) -> bool:
        """Wait for each handed record's outcome; True when every one is done."""
        every_one = True
        for ref, future in submitted:
            try:
                future.result()
            except Refused:
                pass  # set aside in the dead-letter file by the pipeline: retrying would be refused again
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
