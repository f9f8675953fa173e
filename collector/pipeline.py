"""The single writer between the receivers and the store.

Receivers `consume` batches; one thread takes them in arrival order, groups what is queued, runs the
processor chain, writes the group to ClickHouse and only then resolves each batch's future, which is
when the receiver acknowledges. A failed write commits no processor state, so a retry is counted exactly
once. When a group's write fails, nothing of it is stored and the store still answers, its batches are written
again one by one, so only a bad batch is refused; when the store does not answer, every batch of the group gets
Unavailable.

Inserts run on a thread of their own, one at a time, in order: while one is in the store, the writer takes
and processes the next group on top of the state the insert in progress will commit, so the store and the
processors work side by side. That group is sent once the insert before it ended well; if it failed, the
group is processed again from the committed state (see ProcessorChain.process).

A failed insert may have been kept in part (the raw table's part and some views', not others: a store that went
away during it, a view that failed) or whole (an answer lost). While any of it may be stored it is never written
again under another token: it is sent again as is, at once while the store answers, and otherwise held (its
batches get Unavailable) and sent again before anything else is written, until the store takes it whole; its
processor state is then committed, so the retries of its batches are duplicates (`_after_failed_insert`).

A batch the store refuses while it answers (a value it cannot take, a constraint, the schema) gets Refused:
a permanent answer, so its sender does not retry it forever; its facts are set aside in the dead-letter file
for the operator, and the batches after it go through.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from collector.deadletter import DeadLetterFile
from collector.grouping import STOP, take_group
from collector.writes import CommitListener, Item, PipelineConfig, Write, queued_size
from pdata import Batch
from pdata.consumer import ConsumeResult, Overloaded, Refused, Unavailable
from pdata.store import FactWriter, PreparedFacts, QueryFailed, StoreRefused, StoreUnavailable
from processors.chain import ProcessedGroup, ProcessorChain

log = logging.getLogger("cc_analytics.pipeline")


class Pipeline:
    def __init__(
        self,
        chain: ProcessorChain,
        store: FactWriter,
        config: PipelineConfig,
        listeners: Sequence[CommitListener] = (),
        dead_letters: DeadLetterFile | None = None,
        before_answers: Sequence[CommitListener] = (),
    ) -> None:
        """`listeners` get each committed group's facts after its batches are answered; `before_answers` get them
        once the group is committed, before they are: what must never lag an acknowledgement (the console's
        answers kept until a commit changes them, console/answers.py)."""
        self._chain = chain
        self._dead_letters = dead_letters
        self._listeners = list(listeners)
        self._before_answers = list(before_answers)
        self._store = store
        self._config = config
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._queued_items = 0
        self._queued_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="pipeline-writer", daemon=True)
        self._inserter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pipeline-insert")
        self._closed = False
        self.written_groups = 0
        self._last_write_s = 0.0
        self.last_write_error = ""
        # An insert the store went away in the middle of: sent again, whole, before anything else is written.
        self._unfinished: Write | None = None

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
        written: Write | None = None  # the part whose insert is in progress
        stopping = False
        while not stopping:
            written, stopping = self._step(written)
        self._inserter.shutdown(wait=True)

    def _step(self, written: Write | None) -> tuple[Write | None, bool]:
        """Take the next group and process it (while `written`'s insert goes on); returns the part now being
        inserted and whether the writer stops. A step of its own, so that the groups it took are let go when
        it returns, not held by the loop while the writer waits for the next batch."""
        if written is None:
            # An insert has a fixed cost (a part per table and per materialized view, ~50 ms on chDB), so
            # when inserts are slow, wait about as long as the last one took: groups grow with the load
            # and the fixed cost is shared, instead of one small insert per request.
            linger = min(max(self._config.linger_s, self._last_write_s), self._config.max_linger_s)
            taken, stopping = take_group(self._queue, linger, queued_size, self._config.max_group_items)
            # Less the wake-ups of inserts answered already.
            group = [item for item in taken if isinstance(item, tuple)]
        else:
            group, stopping = self._take_while_inserting(written)
        for part in self._parts(group):
            written = self._advance(written, part)
        if written is not None and (not group or stopping):
            # The insert ended with nothing new to process meanwhile (or the writer stops): answer it.
            self._finish(written)
            written = None
        return written, stopping

    def _take_while_inserting(self, written: Write) -> tuple[list[Item], bool]:
        """The next group, taken while `written`'s insert goes on: the batches that arrive until none came for
        linger_s or the insert ended (then what is queued already), up to a group's size; and whether STOP was
        taken. Empty: the insert ended and nothing arrived."""
        group: list[Item] = []
        total = 0
        ended = False
        while total < self._config.max_group_items:
            try:
                if ended:
                    item = self._queue.get_nowait()
                elif group:
                    item = self._queue.get(timeout=self._config.linger_s)
                else:
                    item = self._queue.get()
            except queue.Empty:
                break
            if item is STOP:
                return group, True
            if isinstance(item, Write):  # an insert ended (of an earlier part, already answered: ignored)
                ended = ended or item is written
                continue
            group.append(item)
            total += item[2]
        return group, False

    def _parts(self, group: list[Item]) -> list[list[Item]]:
        """Points and events go to different tables, i.e. separate inserts: each signal is written and
        acknowledged on its own, so that one table failing never makes a sender retry what the other kept."""
        # From here on a future can no longer be cancelled (a receiver whose client went away cancels it):
        # what is written is answered. A batch cancelled before was never acknowledged: it is not written.
        kept: list[Item] = []
        cancelled = 0
        for item in group:
            if item[1].set_running_or_notify_cancel():
                kept.append(item)
            else:
                cancelled += item[2]
        if cancelled:
            with self._queued_lock:
                self._queued_items -= cancelled
        parts = []
        for signal in ("metrics", "logs"):
            part = [item for item in kept if item[0].signal == signal]
            if part:
                parts.append(part)
        return parts

    def _advance(self, written: Write | None, part: list[Item]) -> Write | None:
        """Process `part` while `written`'s insert goes on, answer `written`, then start `part`'s insert;
        returns the part now being inserted (None: `part` was answered already)."""
        batches = [item[0] for item in part]
        size = sum(item[2] for item in part)
        processed: ProcessedGroup | None = None
        if written is not None:
            try:
                processed = self._chain.process(batches, after=written.processed)
            except Exception:
                processed = None  # processed again below, where a fault is answered
            if not self._finish(written):
                processed = None  # processed on top of a write that did not commit: void
        if processed is None:
            failure: Unavailable | Refused | None = self._complete_unfinished()
            if failure is None:
                try:
                    processed = self._chain.process(batches)
                except StoreUnavailable as exc:  # a look-up in a shared store: nothing may be counted without it
                    failure = self._unavailable(batches, exc)
                except Exception as exc:  # a bug must not kill the writer
                    log.exception("pipeline.failed", extra={"fields": {"batches": len(part)}})
                    failure = Unavailable(f"internal error: {type(exc).__name__}")
            if processed is None:
                self._recover(part, failure or Unavailable("internal error: nothing processed"))
                self._release(size)
                return None
        write = Write(part, processed, size)
        try:
            # Serialized once the part before is answered, so that one group's bodies are held at a time (made
            # while that insert went on instead, they stored no faster: bench/README.md, "One in-flight budget").
            prepared = self._store.prepare(processed.points, processed.events)
        except Exception as exc:
            write.insert.set_exception(exc)  # answered as the insert's own failure would be
        else:
            write.prepared = prepared
            write.insert = self._inserter.submit(self._timed_insert, prepared)
        # Wakes the writer waiting for batches, so the write is answered when it ends, whatever else arrives.
        write.insert.add_done_callback(lambda _: self._queue.put(write))
        return write

    def _timed_insert(self, prepared: PreparedFacts) -> float:
        began = time.monotonic()
        self._store.write_prepared(prepared)
        return time.monotonic() - began

    def _finish(self, write: Write) -> bool:
        """Wait for `write`'s insert and answer its batches; True when it committed."""
        failure: Unavailable | Refused | None = None
        try:
            self._last_write_s = write.insert.result()
        except (StoreRefused, StoreUnavailable) as exc:
            failure = self._after_failed_insert(write, exc)
        except Exception as exc:
            log.exception("pipeline.failed", extra={"fields": {"batches": len(write.items)}})
            failure = Unavailable(f"internal error: {type(exc).__name__}")
        if failure is None:
            self._resolve(write.items, write.processed)
            write.clear()
        else:
            self._recover(write.items, failure)
        self._release(write.size)
        return failure is None

    def _release(self, size: int) -> None:
        with self._queued_lock:
            self._queued_items -= size

    def _recover(self, group: list[Item], failure: Unavailable | Refused) -> None:
        """Answer the batches of a group whose write failed with `failure` (none of it is in the store, or it is
        held to be sent again whole: `_after_failed_insert`)."""
        if len(group) == 1 and isinstance(failure, Refused):
            group[0][1].set_exception(failure)
            return
        if len(group) > 1 and self._unfinished is None and self._store_reachable():
            # Write each batch on its own (processed again from scratch, in order), so that only the batch the
            # store or the chain cannot take is refused.
            log.warning("pipeline.group_split", extra={"fields": {"batches": len(group), "error": str(failure)}})
            for position, item in enumerate(group):
                single = self._try_write([item])
                if single is None:
                    continue
                item[1].set_exception(single)
                # Held, or maybe gone: a refusal is the store answering, anything else may not be. Stop trying.
                held = self._unfinished is not None
                if held or (not isinstance(single, Refused) and not self._store_reachable()):
                    self._fail(group[position + 1 :], single)
                    return
            return
        self._fail(group, failure)

    @staticmethod
    def _fail(group: list[Item], failure: Unavailable | Refused) -> None:
        if isinstance(failure, Refused):  # of a group, by a store that no longer answers: which batch is unknown
            failure = Unavailable("store unavailable, nothing was kept: retry later")
        for _, future, _ in group:
            future.set_exception(Unavailable(str(failure), failure.retry_after_s))

    def _store_reachable(self) -> bool:
        try:
            return bool(self._store.ping())
        except Exception:
            return False

    def _try_write(self, group: list[Item]) -> Unavailable | Refused | None:
        """Process, write, commit and resolve `group` at once; on failure commit nothing and return the answer."""
        batches = [batch for batch, _, _ in group]
        processed: ProcessedGroup | None = None
        prepared: PreparedFacts | None = None
        try:
            processed = self._chain.process(batches)
            prepared = self._store.prepare(processed.points, processed.events)
            self._store.write_prepared(prepared)
        except (StoreRefused, StoreUnavailable) as exc:
            if processed is None:  # a look-up of the chain's in a shared store: nothing was sent
                return self._answer(batches, ProcessedGroup(), exc)
            failure = self._after_failed_insert(Write(group, processed, 0, prepared=prepared), exc)
            if failure is not None:
                return failure
        except Exception as exc:  # a bug must not kill the writer; the senders get a retryable answer
            log.exception("pipeline.failed", extra={"fields": {"batches": len(batches)}})
            return Unavailable(f"internal error: {type(exc).__name__}")
        assert processed is not None  # for the type checker: set before anything that may fail
        self._resolve(group, processed)
        return None

    def _after_failed_insert(self, write: Write, exc: StoreRefused | StoreUnavailable) -> Unavailable | Refused | None:
        """`write`'s insert failed with `exc`: the answer for its batches, or None when it is whole after all.

        A failed insert may have been kept in part: the raw table's part and some views', not others (an insert
        into a table and its materialized views is not atomic: a view that failed, a store that went away during
        it), or all of it (an answer lost after the store committed). Its batches written again under other
        tokens would then count twice where it was kept, or, found stored (dedup.shared), never reach the rollups
        that missed it. So while the store answers, an insert that failed for a reason of the moment
        (StoreUnavailable) is sent again at once, the same rows under the same token: what was kept is skipped
        and the rest written (exporters/clickhouse/insert_journal.py). When that fails too and its rows are in the
        store, when it was refused with some of its rows stored, or when the store does not answer, it is held:
        its batches get Unavailable, and before anything else is written it is sent again until the store takes
        it whole (`_complete_unfinished`). Otherwise its batches get the failure (a group is then written batch
        by batch, `_recover`, so that only a bad batch is refused)."""
        batches = [item[0] for item in write.items]
        if write.prepared is None:  # serializing it failed: nothing was sent
            return self._answer(batches, write.processed, exc)
        if not self._store_reachable():
            self._unfinished = write
            return self._unavailable(batches, exc)
        if isinstance(exc, StoreRefused):  # the same rows would be refused again
            return self._held_or_refused(write, exc)
        try:
            self._store.write_prepared(write.prepared)
        except StoreRefused as again:
            return self._held_or_refused(write, again)
        except StoreUnavailable as again:
            if self._kept_any(write.prepared):
                self._hold(write, again)
            return self._unavailable(batches, again)
        log.warning(
            "store.insert_sent_again",
            extra={"fields": {"batches": len(batches), "error": str(exc), "effect": "whole at the second try"}},
        )
        return None

    def _kept_any(self, prepared: PreparedFacts) -> bool:
        """Whether the store holds any of `prepared`'s rows; when it cannot say, as if it did (sending an insert
        again whole is right either way)."""
        try:
            return self._store.kept_any(prepared)
        except (StoreUnavailable, QueryFailed):
            return True
        except Exception:  # a bug must not kill the writer
            log.exception("pipeline.failed", extra={"fields": {"facts": len(prepared.points) + len(prepared.events)}})
            return True

    def _held_or_refused(self, write: Write, exc: StoreRefused) -> Unavailable | Refused:
        """The answer to a refusal of `write`'s insert: held when part of it is stored (a view refuses what its
        table took: dropping it would leave the rollups apart), else refused whole."""
        batches = [item[0] for item in write.items]
        if write.prepared is not None and self._kept_any(write.prepared):
            self._hold(write, exc)
            return self._unavailable(batches, exc)
        return self._refused_whole(batches, write.processed, exc)

    def _hold(self, write: Write, exc: StoreRefused | StoreUnavailable) -> None:
        """Send `write`'s insert again whole before anything else is written (it is kept in part)."""
        self._unfinished = write
        log.error(
            "store.kept_insert_held",
            extra={
                "fields": {
                    "batches": len(write.items),
                    "error": str(exc),
                    "effect": "part of this insert is stored: nothing else is written until the store takes all "
                    "of it, sent again as is",
                }
            },
        )

    def _complete_unfinished(self) -> Unavailable | None:
        """Send the held insert again; once it is whole, commit its state (the retries of its requests are then
        duplicates) and tell the listeners. An answer when the store still does not take it: nothing else is
        written meanwhile."""
        write = self._unfinished
        if write is None or write.prepared is None:
            return None
        batches = [item[0] for item in write.items]
        try:
            self._store.write_prepared(write.prepared)
        except StoreRefused as exc:
            answer = self._held_or_refused(write, exc)
            if isinstance(answer, Refused):  # none of it is stored: there is nothing to complete
                self._unfinished = None
                return None
            return answer
        except StoreUnavailable as exc:
            return self._unavailable(batches, exc)
        except Exception as exc:
            log.exception("pipeline.failed", extra={"fields": {"batches": len(batches)}})
            return Unavailable(f"internal error: {type(exc).__name__}")
        self._unfinished = None
        self._commit(write.processed)
        self._before_answering(write.processed)
        log.warning(
            "store.unfinished_insert_completed",
            extra={
                "fields": {
                    "batches": len(batches),
                    "effect": "an insert kept in part is whole now; its requests' retries are answered as duplicates",
                }
            },
        )
        self._notify(write.processed)
        return None

    def _answer(
        self, batches: list[Batch], processed: ProcessedGroup, exc: StoreRefused | StoreUnavailable
    ) -> Unavailable | Refused:
        if isinstance(exc, StoreRefused):
            return self._refused(batches, processed, exc)
        return self._unavailable(batches, exc)

    def _refused_whole(self, batches: list[Batch], processed: ProcessedGroup, exc: StoreRefused) -> Refused:
        """An insert refused with none of its rows stored: its batches are refused, and it is not completed later
        (the store's insert journal forgets it)."""
        self._store.forget_failed_insert()
        return self._refused(batches, processed, exc)

    def _refused(self, batches: list[Batch], processed: ProcessedGroup, exc: StoreRefused) -> Refused:
        self.last_write_error = str(exc)
        log.error("store.write_refused", extra={"fields": {"batches": len(batches), "error": str(exc)}})
        if len(batches) == 1 and self._dead_letters is not None:
            self._dead_letters.set_aside(batches[0], exc.reason, processed.points, processed.events)
        return Refused(f"refused by the store, nothing was kept (do not retry as is): {exc.reason}")

    def _unavailable(self, batches: list[Batch], exc: StoreUnavailable | StoreRefused) -> Unavailable:
        self.last_write_error = str(exc)
        log.error("store.write_failed", extra={"fields": {"batches": len(batches), "error": str(exc)}})
        return Unavailable("store unavailable, nothing was kept: retry later")

    def _resolve(self, group: list[Item], processed: ProcessedGroup) -> None:
        """`group` is durable: commit its processor state, tell the hooks that must not lag an answer, answer its
        batches, tell the listeners."""
        self._commit(processed)
        self._before_answering(processed)
        for index, (_, future, _) in enumerate(group):
            future.set_result(ConsumeResult(duplicate=index in processed.duplicates))
        self._notify(processed)

    def _commit(self, processed: ProcessedGroup) -> None:
        """A group's insert is durable: its processor state becomes the committed one."""
        self._chain.commit(processed)
        self.written_groups += 1
        self.last_write_error = ""

    def _before_answering(self, processed: ProcessedGroup) -> None:
        _tell(self._before_answers, processed)

    def _notify(self, processed: ProcessedGroup) -> None:
        _tell(self._listeners, processed)


def _tell(listeners: Sequence[CommitListener], processed: ProcessedGroup) -> None:
    """Each listener gets the committed facts; one that fails is logged and the others still get them."""
    for listener in listeners:
        try:
            listener(processed.points, processed.events)
        except Exception:
            log.exception("pipeline.listener_failed")
