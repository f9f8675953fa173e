"""The writer's answer when a group's insert fails: with the store still reachable, the group's batches are
written again one by one (after the group is tried once more as is) so only the bad one is refused; with the
store gone, all get Unavailable.

The store here is a test double: it refuses any insert holding a point or event of a marked request, a fault
the real engine cannot be made to show on demand. Everything else (processor chain, pipeline) is real.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future

import pytest

from collector.pipeline import Pipeline, PipelineConfig
from exporters.clickhouse import StoreUnavailable
from pdata import Batch, EventFact, LogEvent, MetricPoint, PointFact, Sender
from pdata.consumer import ConsumeResult, Unavailable
from pdata.store import PreparedFacts
from processors.chain import ProcessorChain
from processors.dedup import RequestDeduplicator
from processors.identity import IdentityResolver
from processors.temporality import CumulativeToDelta

BAD = b"bad-request"
CUMULATIVE = 2


class FlakyStore:
    """Refuses an insert containing a fact of the request `BAD`; `reachable` is what ping() answers."""

    def __init__(self, reachable: bool = True) -> None:
        self.reachable = reachable
        self.attempts: list[set[bytes]] = []  # the requests of every insert tried
        self.committed: list[tuple[list[PointFact], list[EventFact]]] = []

    def prepare(self, points: Sequence[PointFact], events: Sequence[EventFact]) -> PreparedFacts:
        return PreparedFacts(points, events)

    def write_prepared(self, prepared: PreparedFacts) -> None:
        points, events = prepared.points, prepared.events
        digests = {fact.digest for fact in points} | {fact.digest for fact in events}
        self.attempts.append(digests)
        if BAD in digests or not self.reachable:
            raise StoreUnavailable("Code: 1001. the engine refused the insert")
        self.committed.append((list(points), list(events)))

    def ping(self) -> bool:
        return self.reachable

    def kept_any(self, prepared: PreparedFacts) -> bool:
        stored = {fact.digest for points, events in self.committed for fact in (*points, *events)}
        return any(fact.digest in stored for fact in (*prepared.points, *prepared.events))


def lines(total: float, time_ns: int) -> MetricPoint:
    """A cumulative point of one added-lines series: its running total `total`."""
    return MetricPoint(
        metric="claude_code.lines_of_code.count", unit="", temporality=CUMULATIVE, monotonic=True, start_ns=1,
        time_ns=time_ns, value=total, resource={"service.name": "claude-code"},
        attributes={"user.email": "dev@example.com", "session.id": "s1", "type": "added"},
    )  # fmt: skip


def metrics_batch(digest: bytes, total: float, time_ns: int) -> Batch:
    return Batch(signal="metrics", digest=digest, sender=Sender(), received_ns=time_ns, points=[lines(total, time_ns)])


def logs_batch(digest: bytes, time_ns: int) -> Batch:
    event = LogEvent(time_ns=time_ns, name="user_prompt", body="claude_code.user_prompt",
                     attributes={"user.email": "dev@example.com"}, resource={})  # fmt: skip
    return Batch(signal="logs", digest=digest, sender=Sender(), received_ns=time_ns, events=[event])


class Run:
    """A pipeline over the real processor chain and `store`, with every committed group recorded."""

    def __init__(self, store: FlakyStore) -> None:
        self.store = store
        self.chain = ProcessorChain(IdentityResolver(), CumulativeToDelta(), RequestDeduplicator(10**15))
        self.heard: list[tuple[list[PointFact], list[EventFact]]] = []
        self.pipeline = Pipeline(self.chain, store, PipelineConfig(linger_s=0.05),
                                 listeners=[lambda p, e: self.heard.append((list(p), list(e)))])  # fmt: skip

    def group(self, *batches: Batch) -> list[Future[ConsumeResult]]:
        """Queue `batches` before the writer starts, so it takes them as one group; wait for every answer."""
        futures = [self.pipeline.consume(batch) for batch in batches]
        self.pipeline.start()
        for future in futures:
            future.exception(timeout=10)
        return futures

    def close(self) -> None:
        self.pipeline.close(timeout_s=10)


@pytest.fixture
def reachable() -> Run:
    run = Run(FlakyStore(reachable=True))
    yield run
    run.close()


def test_only_the_bad_batch_is_refused_when_the_store_is_reachable(reachable: Run) -> None:
    run = reachable
    futures = run.group(
        metrics_batch(b"r1", 10, 1_000), metrics_batch(BAD, 15, 2_000), metrics_batch(b"r3", 20, 3_000),
        logs_batch(b"l1", 1_500),
    )  # fmt: skip
    answers = [future.exception() for future in futures]
    assert answers[0] is None and answers[2] is None and answers[3] is None
    assert isinstance(answers[1], Unavailable)
    assert futures[0].result() == ConsumeResult(duplicate=False)

    # Metrics: the whole group was tried twice (a failure of the moment is tried again at once, as is), then
    # each batch on its own, the bad one twice too; logs were written apart.
    assert run.store.attempts == [{b"r1", BAD, b"r3"}, {b"r1", BAD, b"r3"}, {b"r1"}, {BAD}, {BAD}, {b"r3"}, {b"l1"}]
    # Each batch was processed again from scratch: the refused point committed no converter state, so the
    # next cumulative total counts from the last committed one (20 - 10), and nothing is counted twice.
    deltas = [fact.delta for points, _ in run.store.committed for fact in points]
    assert deltas == [10, 10]
    # Listeners hear exactly what was committed, once per committed insert.
    assert run.heard == run.store.committed
    assert [len(events) for _, events in run.heard] == [0, 0, 1]


def test_refused_batch_counts_once_when_retried_and_accepted_ones_stay_duplicates(reachable: Run) -> None:
    run = reachable
    run.group(metrics_batch(b"r1", 10, 1_000), metrics_batch(BAD, 15, 2_000))
    # The refused request was never acknowledged nor remembered: its retry (fixed) is new data; the
    # acknowledged one is a duplicate.
    assert not run.chain.deduplicator.seen(BAD)
    assert run.chain.deduplicator.seen(b"r1")
    retry = run.pipeline.consume(metrics_batch(b"r1", 10, 1_000))
    assert retry.result(timeout=10).duplicate


def test_every_batch_gets_unavailable_when_the_store_is_unreachable() -> None:
    run = Run(FlakyStore(reachable=False))
    try:
        futures = run.group(metrics_batch(b"r1", 10, 1_000), metrics_batch(b"r2", 15, 2_000))
        answers = [future.exception() for future in futures]
        assert all(isinstance(answer, Unavailable) for answer in answers)
        assert answers[0] is not answers[1]
        assert run.store.attempts == [{b"r1", b"r2"}]  # no per-batch retries against a store that is gone
        assert run.heard == [] and not run.chain.deduplicator.seen(b"r1")
    finally:
        run.close()


def test_a_single_bad_batch_is_tried_again_once_as_is_and_not_split(reachable: Run) -> None:
    run = reachable
    (future,) = run.group(metrics_batch(BAD, 5, 1_000))
    assert isinstance(future.exception(), Unavailable)
    assert run.store.attempts == [{BAD}, {BAD}]


def test_a_batch_whose_sender_went_away_before_the_write_is_not_written(reachable: Run) -> None:
    run = reachable
    gone = run.pipeline.consume(metrics_batch(b"gone", 3, 1_000))
    assert gone.cancel()  # what asyncio.wrap_future does when the receiver's handler is cancelled
    (kept,) = run.group(metrics_batch(b"kept", 4, 2_000))
    assert kept.result().duplicate is False
    assert run.store.attempts == [{b"kept"}]
