"""While one group's insert is in the store, the writer processes the next group on top of the state that insert
will commit; the next group is sent only once the insert before it ended well, and processed again from the
committed state when it failed. The figures are those of writing the groups one after the other.

The store here is a test double that holds each insert until the test lets it end, well or failed: a store that
is slow to commit, or fails one insert and takes the next, on demand (faults the real engine cannot be made to
show at a chosen moment). The processor chain and the pipeline are real.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import pytest

from collector.pipeline import Pipeline, PipelineConfig
from exporters.clickhouse import StoreUnavailable
from pdata import Batch, EventFact, MetricPoint, PointFact, Sender
from pdata.consumer import ConsumeResult, Unavailable
from pdata.store import PreparedFacts
from processors.chain import ProcessedGroup, ProcessorChain
from processors.dedup import RequestDeduplicator
from processors.identity import IdentityResolver
from processors.temporality import CumulativeToDelta

CUMULATIVE = 2
WAIT_S = 30.0


@dataclass
class HeldInsert:
    points: list[PointFact]
    outcome: str = ""  # "ok" or "fail", set by the test
    ended: threading.Event = field(default_factory=threading.Event)

    def end(self, outcome: str) -> None:
        self.outcome = outcome
        self.ended.set()


class HeldStore:
    """Holds every insert until the test ends it; keeps the points of those that ended well."""

    def __init__(self) -> None:
        self.started: queue.Queue[HeldInsert] = queue.Queue()
        self.committed: list[PointFact] = []

    def prepare(self, points: Sequence[PointFact], events: Sequence[EventFact]) -> PreparedFacts:
        return PreparedFacts(points, events)

    def write_prepared(self, prepared: PreparedFacts) -> None:
        points, events = prepared.points, prepared.events
        if not points and not events:
            return  # as the real store: nothing to insert (a group of duplicates)
        insert = HeldInsert(list(points))
        self.started.put(insert)
        if not insert.ended.wait(WAIT_S):
            raise StoreUnavailable("the test never ended this insert")
        if insert.outcome != "ok":
            raise StoreUnavailable("Code: 210. connection reset during the insert")
        self.committed.extend(points)

    def ping(self) -> bool:
        return True

    def kept_any(self, prepared: PreparedFacts) -> bool:
        stored = {fact.digest for fact in self.committed}
        return any(fact.digest in stored for fact in prepared.points)

    def next_insert(self) -> HeldInsert:
        return self.started.get(timeout=WAIT_S)


class WatchedChain(ProcessorChain):
    """The real chain; counts the groups processed on top of a write still in progress."""

    def __init__(self, converter: CumulativeToDelta) -> None:
        super().__init__(IdentityResolver(), converter, RequestDeduplicator(10**15))
        self.on_top = 0

    def process(self, batches: list[Batch], after: ProcessedGroup | None = None) -> ProcessedGroup:
        group = super().process(batches, after)
        if after is not None:
            self.on_top += 1
        return group

    def wait_on_top(self, count: int) -> None:
        deadline = time.monotonic() + WAIT_S
        while self.on_top < count:
            assert time.monotonic() < deadline, "the next group was not processed while the insert went on"
            time.sleep(0.01)


def total(value: float, time_ns: int, session: str = "s1") -> MetricPoint:
    """A cumulative point of one session's added-lines series: its running total `value`."""
    return MetricPoint(
        metric="claude_code.lines_of_code.count", unit="", temporality=CUMULATIVE, monotonic=True, start_ns=1,
        time_ns=time_ns, value=value, resource={"service.name": "claude-code"},
        attributes={"user.email": "dev@example.com", "session.id": session, "type": "added"},
    )  # fmt: skip


def request(digest: bytes, *points: MetricPoint) -> Batch:
    received_ns = max(point.time_ns for point in points)
    return Batch(signal="metrics", digest=digest, sender=Sender(), received_ns=received_ns, points=list(points))


class Run:
    def __init__(self, max_series: int = 1000) -> None:
        self.store = HeldStore()
        self.chain = WatchedChain(CumulativeToDelta(max_series=max_series))
        self.pipeline = Pipeline(self.chain, self.store, PipelineConfig(linger_s=0.0, max_linger_s=0.0))
        self.pipeline.start()

    def send(self, batch: Batch) -> Future[ConsumeResult]:
        return self.pipeline.consume(batch)

    def lines(self) -> float:
        return sum(fact.delta for fact in self.store.committed)


@pytest.fixture
def run() -> Iterator[Run]:
    run = Run()
    yield run
    run.pipeline.close(timeout_s=10)


def test_the_next_group_counts_from_the_insert_in_progress_once_it_commits(run: Run) -> None:
    first = run.send(request(b"r1", total(10, 1_000)))
    held = run.store.next_insert()
    later = run.send(request(b"r2", total(15, 2_000)))
    retry = run.send(request(b"r1", total(10, 1_000)))  # the sender's retry of r1, while r1 is being written
    run.chain.wait_on_top(1)
    held.end("ok")
    run.store.next_insert().end("ok")

    assert first.result(WAIT_S) == ConsumeResult(duplicate=False)
    assert later.result(WAIT_S) == ConsumeResult(duplicate=False)
    assert retry.result(WAIT_S) == ConsumeResult(duplicate=True)
    assert [fact.delta for fact in run.store.committed] == [10, 5]
    assert run.lines() == 15


def test_when_the_insert_in_progress_fails_the_next_group_is_processed_again_from_what_was_committed(
    run: Run,
) -> None:
    first = run.send(request(b"r1", total(10, 1_000)))
    held = run.store.next_insert()
    later = run.send(request(b"r2", total(15, 2_000)))
    retry = run.send(request(b"r1", total(10, 1_000)))
    run.chain.wait_on_top(1)
    held.end("fail")
    run.store.next_insert().end("fail")  # tried again at once, as is: it failed for a reason of the moment
    run.store.next_insert().end("ok")

    assert isinstance(first.exception(WAIT_S), Unavailable)
    # r2 counts from nothing committed (its total, 15), not from r1's 10 that never was; r1's copy that arrived
    # meanwhile is no duplicate of a write that failed: it is new.
    assert later.result(WAIT_S) == ConsumeResult(duplicate=False)
    assert retry.result(WAIT_S) == ConsumeResult(duplicate=False)
    assert sorted(fact.delta for fact in run.store.committed) == [15]
    # r1's copy is older than r2 in its series: it adds nothing, r2's total already holds its lines.
    assert run.lines() == 15
    # The sender's own retry of r1 is now a duplicate, counted once.
    again = run.send(request(b"r1", total(10, 1_000)))
    assert again.result(WAIT_S) == ConsumeResult(duplicate=True)
    assert run.lines() == 15


def test_new_series_of_the_insert_in_progress_count_against_the_series_bound() -> None:
    run = Run(max_series=2)
    try:
        run.send(request(b"r1", total(3, 1_000, session="a")))
        held = run.store.next_insert()
        second = request(b"r2", total(4, 2_000, session="b"), total(5, 2_000, session="c"))
        answer = run.send(second)
        run.chain.wait_on_top(1)
        held.end("ok")
        run.store.next_insert().end("ok")
        answer.result(WAIT_S)
        # Series a is being written when b and c arrive: only one more fits the bound of 2.
        assert second.rejected == 1
        assert len(run.chain.converter) == 2
        assert run.lines() == 3 + 4
    finally:
        run.pipeline.close(timeout_s=10)
