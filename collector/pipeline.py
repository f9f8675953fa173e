"""The single writer between the receivers and the store.

Receivers `consume` batches; one thread takes them in arrival order, groups what is queued, runs the
processor chain, writes the group to ClickHouse and only then resolves each batch's future, which is
when the receiver acknowledges. A failed write commits no processor state, so a retry is counted exactly
once. When a group's write fails and the store still answers, its batches are written again one by one, so
only a bad batch is refused; when the store does not answer, every batch of the group gets Unavailable.

A batch the store refuses while it answers (a value it cannot take, a constraint, the schema) gets Refused:
a permanent answer, so its sender does not retry it forever; its facts are set aside in the dead-letter file
for the operator, and the batches after it go through.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from collector.deadletter import DeadLetterFile
from collector.grouping import STOP, take_group
from pdata import Batch, EventFact, PointFact
from pdata.consumer import ConsumeResult, Overloaded, Refused, Unavailable
from pdata.store import FactWriter, StoreRefused, StoreUnavailable
from processors.chain import ProcessorChain

log = logging.getLogger("cc_analytics.pipeline")


def _queued_size(item: tuple[Batch, Future, int]) -> int:
    return item[2]


# Called with each group's facts once they are committed (e.g. the Prometheus exporter's counters).
CommitListener = Callable[[Sequence[PointFact], Sequence[EventFact]], None]


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    max_queued_items: int = 20_000  # points + events waiting for the writer
    max_group_items: int = 50_000  # points + events written in one insert
    linger_s: float = 0.005  # how long the writer waits for more batches to share an insert (at least)
    max_linger_s: float = 0.2  # at most: the writer lingers as long as its last insert took, up to this


class Pipeline:
    def __init__(
        self,
        chain: ProcessorChain,
        store: FactWriter,
        config: PipelineConfig,
        listeners: Sequence[CommitListener] = (),
        dead_letters: DeadLetterFile | None = None,
    ) -> None:
        self._chain = chain
        self._dead_letters = dead_letters
        self._listeners = list(listeners)
        self._store = store
        self._config = config
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._queued_items = 0
        self._queued_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="pipeline-writer", daemon=True)
        self._closed = False
        self.written_groups = 0
        self._last_write_s = 0.0
        self.last_write_error = ""

    @property
    def queued_items(self) -> int:
        return self._queued_items

    def start(self) -> None:
        self._thread.start()

    def consume(self, batch: Batch) -> Future[ConsumeResult]:
        future: Future[ConsumeResult] = Future()
        size = max(batch.size, 1)
        with self._queued_lock:
            if self._closed:
                raise Unavailable("collector is shutting down", retry_after_s=5)
            if self._queued_items + size > self._config.max_queued_items and self._queued_items > 0:
                raise Overloaded(f"{self._queued_items} points and records are waiting to be written", 1)
            self._queued_items += size
        self._queue.put((batch, future, size))
        return future

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop taking batches, write everything queued, then stop the writer."""
        with self._queued_lock:
            self._closed = True
        self._queue.put(STOP)
        self._thread.join(timeout_s)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            # An insert has a fixed cost (a part per table and per materialized view, ~50 ms on chDB), so
            # when inserts are slow, wait about as long as the last one took: groups grow with the load
            # and the fixed cost is shared, instead of one small insert per request.
            linger = min(max(self._config.linger_s, self._last_write_s), self._config.max_linger_s)
            group, stopping = take_group(self._queue, linger, _queued_size, self._config.max_group_items)
            if not group:
                break
            size = sum(item[2] for item in group)
            began = time.monotonic()
            self._write(group)
            self._last_write_s = time.monotonic() - began
            with self._queued_lock:
                self._queued_items -= size

    def _write(self, group: list[tuple[Batch, Future, int]]) -> None:
        # From here on a future can no longer be cancelled (a receiver whose client went away cancels it):
        # what is written is answered. A batch cancelled before was never acknowledged: it is not written.
        group = [item for item in group if item[1].set_running_or_notify_cancel()]
        # Points and events go to different tables, i.e. separate inserts: write and acknowledge each
        # signal on its own, so that one table failing never makes a sender retry what the other kept.
        for signal in ("metrics", "logs"):
            part = [item for item in group if item[0].signal == signal]
            if part:
                self._write_signal(part)

    def _write_signal(self, group: list[tuple[Batch, Future, int]]) -> None:
        failure = self._try_write(group)
        if failure is None:
            return
        if len(group) == 1 and isinstance(failure, Refused):
            group[0][1].set_exception(failure)
            return
        if len(group) > 1 and self._store_reachable():
            # Nothing of the group was committed: write each batch on its own (processed again from scratch,
            # in order), so that only the batch the store or the chain cannot take is refused.
            log.warning("pipeline.group_split", extra={"fields": {"batches": len(group), "error": str(failure)}})
            for position, item in enumerate(group):
                single = self._try_write([item])
                if single is None:
                    continue
                item[1].set_exception(single)
                # A refusal is the store answering; otherwise it may have gone away meanwhile: stop trying.
                if not isinstance(single, Refused) and not self._store_reachable():
                    self._fail(group[position + 1 :], single)
                    return
            return
        self._fail(group, failure)

    @staticmethod
    def _fail(group: list[tuple[Batch, Future, int]], failure: Unavailable | Refused) -> None:
        if isinstance(failure, Refused):  # of a group, by a store that no longer answers: which batch is unknown
            failure = Unavailable("store unavailable, nothing was kept: retry later")
        for _, future, _ in group:
            future.set_exception(Unavailable(str(failure), failure.retry_after_s))

    def _store_reachable(self) -> bool:
        try:
            return bool(self._store.ping())
        except Exception:
            return False

    def _try_write(self, group: list[tuple[Batch, Future, int]]) -> Unavailable | Refused | None:
        """Process, write, commit and resolve `group`; on failure commit nothing and return the answer."""
        batches = [batch for batch, _, _ in group]
        try:
            processed = self._chain.process(batches)
            self._store.write(processed.points, processed.events)
        except StoreRefused as exc:
            self.last_write_error = str(exc)
            log.error("store.write_refused", extra={"fields": {"batches": len(batches), "error": str(exc)}})
            if len(batches) == 1 and self._dead_letters is not None:
                self._dead_letters.set_aside(batches[0], exc.reason, processed.points, processed.events)
            return Refused(f"refused by the store, nothing was kept (do not retry as is): {exc.reason}")
        except StoreUnavailable as exc:
            self.last_write_error = str(exc)
            log.error("store.write_failed", extra={"fields": {"batches": len(batches), "error": str(exc)}})
            return Unavailable("store unavailable, nothing was kept: retry later")
        except Exception as exc:  # a bug must not kill the writer; the senders get a retryable answer
            log.exception("pipeline.failed", extra={"fields": {"batches": len(batches)}})
            return Unavailable(f"internal error: {type(exc).__name__}")
        self._chain.commit(processed)
        self.written_groups += 1
        self.last_write_error = ""
        for index, (_, future, _) in enumerate(group):
            future.set_result(ConsumeResult(duplicate=index in processed.duplicates))
        for listener in self._listeners:
            try:
                listener(processed.points, processed.events)
            except Exception:
                log.exception("pipeline.listener_failed")
        return None
