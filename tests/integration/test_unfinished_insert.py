"""An insert the store kept in part is made whole before anything else is written, and the retries of its
requests are duplicates (collector/pipeline.py, `_after_failed_insert`): every rollup counts them once, whether
the processors read what is stored (dedup.shared, a server) or not (the embedded store).

Three ways an insert is kept in part, each built on the real engine:
- the store goes away during it, as a server killed during an insert leaves it (as in test_insert_journal.py):
  the view that fills `member_daily` (and, through it, `member_monthly`) is detached while the insert runs, so
  the raw table's part and the other views' parts are committed and member_daily's is not; the store then stops
  answering until the test brings it back (a fault the real engine cannot be made to show on demand);
- its answer is lost after the store committed all of it, the store still answering (a test double around the
  real store raises after the insert returned: the same fault);
- a view refuses what its table took, the store answering throughout: member_daily's view detached during
  each insert and the refusal raised after it (the state a refusing view leaves, made the same every time), and a
  real materialized view that throws on one value, whose insert the engine keeps in part or not at all.
The processor chain, the pipeline and the store are real.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from collector.pipeline import Pipeline, PipelineConfig
from exporters.clickhouse import ClickHouseConfig, ClickHouseStore, StoreUnavailable, create_store
from pdata import Batch, EventFact, MetricPoint, PointFact, Sender
from pdata.consumer import ConsumeResult, Unavailable
from pdata.store import FactWriter, PreparedFacts, StoreRefused
from processors.chain import ProcessorChain
from processors.dedup import RequestDeduplicator
from processors.identity import IdentityResolver
from processors.temporality import CumulativeToDelta

WAIT_S = 30.0
DELTA = 1
LINES = "claude_code.lines_of_code.count"
TABLES = {
    "metric_points": "sumIf(value, fact = 'lines_added')",
    "member_hourly": "sum(accepted_lines)",
    "team_daily": "sum(accepted_lines)",
    "member_daily": "sum(accepted_lines)",
    "member_monthly": "sum(accepted_lines)",
}


class AroundTheStore:
    """The real store, with a fault in its inserts (`write_prepared`, each subclass's); the rest passed through."""

    def __init__(self, store: ClickHouseStore) -> None:
        self.store = store

    def prepare(self, points: Sequence[PointFact], events: Sequence[EventFact]) -> PreparedFacts:
        return self.store.prepare(points, events)

    def ping(self) -> bool:
        return True

    def kept_any(self, prepared: PreparedFacts) -> bool:
        return self.store.kept_any(prepared)

    def forget_failed_insert(self) -> None:
        self.store.forget_failed_insert()

    def insert_without_member_daily(self, prepared: PreparedFacts) -> None:
        """The insert with member_daily's view detached: every part but member_daily's (and member_monthly's,
        filled from it) is committed."""
        self.store.execute("DETACH TABLE member_daily_from_points")
        try:
            self.store.write_prepared(prepared)
        finally:
            self.store.execute("ATTACH TABLE member_daily_from_points")


class StoreGoesAway(AroundTheStore):
    """Its first insert is cut short (member_daily's part not written) and the store then stops answering until
    `back()`."""

    def __init__(self, store: ClickHouseStore) -> None:
        super().__init__(store)
        self.reachable = True
        self._cut_next = True

    def write_prepared(self, prepared: PreparedFacts) -> None:
        if not self.reachable:
            raise StoreUnavailable("Code: 210. connection refused")
        if not self._cut_next:
            self.store.write_prepared(prepared)
            return
        self._cut_next = False
        self.insert_without_member_daily(prepared)
        self.reachable = False
        raise StoreUnavailable("Code: 210. connection reset by peer during the insert")

    def ping(self) -> bool:
        return self.reachable

    def back(self) -> None:
        self.reachable = True


class AnswerLost(AroundTheStore):
    """The answer to its first insert is lost after the insert committed, the store answering."""

    def __init__(self, store: ClickHouseStore) -> None:
        super().__init__(store)
        self._lose_next = True

    def write_prepared(self, prepared: PreparedFacts) -> None:
        self.store.write_prepared(prepared)
        if self._lose_next:
            self._lose_next = False
            raise StoreUnavailable("Code: 210. connection reset by peer before the answer")


class ViewRefuses(AroundTheStore):
    """Its view filling member_daily refuses what metric_points took, until `mend()`: each insert is kept
    without member_daily's part (nor member_monthly's) and answered with the view's refusal, the store answering
    throughout."""

    def __init__(self, store: ClickHouseStore) -> None:
        super().__init__(store)
        self.broken = True

    def write_prepared(self, prepared: PreparedFacts) -> None:
        if not self.broken:
            self.store.write_prepared(prepared)
            return
        self.insert_without_member_daily(prepared)
        reason = "Code: 395. DB::Exception: the view refuses a value: while pushing to view member_daily_from_points"
        raise StoreRefused(reason, reason, 395)

    def mend(self) -> None:
        self.broken = False


def request(digest: bytes, *lines: float) -> Batch:
    now = time.time_ns()
    attributes = {"session.id": "sess-1", "user.email": "alice@example.com", "type": "added"}
    points = [
        MetricPoint(LINES, "count", DELTA, True, now - 1, now + index, value, attributes, {"service.name": "cc"})
        for index, value in enumerate(lines)
    ]
    return Batch(signal="metrics", digest=digest, sender=Sender(), received_ns=now, points=points)


class Run:
    """A pipeline over the real chain and store, the store seen through `wrap`; started by the first `send`, so
    that send's requests are one group."""

    def __init__(self, directory: Path, shared: bool, wrap: Callable[[ClickHouseStore], FactWriter]) -> None:
        self.real = create_store(ClickHouseConfig(f"chdb://{directory / 'chdb'}", journal_dir=str(directory)))
        self.store: Any = wrap(self.real)  # the wrapper, with its own controls
        stored = self.real.stored_request_digests if shared else None
        self.chain = ProcessorChain(IdentityResolver(), CumulativeToDelta(), RequestDeduplicator(10**15, stored))
        self.pipeline = Pipeline(self.chain, self.store, PipelineConfig(linger_s=0.0, max_linger_s=0.0))
        self._started = False

    def send(self, *batches: Batch) -> list[Future[ConsumeResult]]:
        futures = [self.pipeline.consume(batch) for batch in batches]
        if not self._started:
            self.pipeline.start()
            self._started = True
        for future in futures:
            future.exception(WAIT_S)
        return futures

    def figures(self) -> dict[str, float]:
        return {table: float(self.real.select(f"SELECT {total} FROM {table}")[0][0]) for table, total in TABLES.items()}

    def close(self) -> None:
        if self._started:
            self.pipeline.close(timeout_s=10)
        self.real.close()


@pytest.fixture(params=[True, False], ids=["dedup-shared", "dedup-in-memory"])
def runs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Run]]:
    """Runs over a store seen through a given wrapper, with or without dedup.shared."""
    made: list[Run] = []

    def make(wrap: Callable[[ClickHouseStore], FactWriter] = lambda store: store) -> Run:
        made.append(Run(tmp_path / str(len(made)), request.param, wrap))
        return made[-1]

    yield make
    for run in made:
        run.close()


@pytest.fixture
def run(runs: Callable[..., Run]) -> Run:
    return runs(StoreGoesAway)


def test_an_insert_cut_short_by_the_store_going_away_is_made_whole_and_its_retry_counts_once(run: Run) -> None:
    (first,) = run.send(request(b"a" * 16, 10, 5, 1))
    assert isinstance(first.exception(), Unavailable)
    # What the store kept of it: every table but member_daily and member_monthly.
    assert run.figures()["member_daily"] == 0
    assert run.figures()["metric_points"] == 16

    run.store.back()
    # The sender's (or the queue's) retry, now in a group with a new request.
    retry, later = run.send(request(b"a" * 16, 10, 5, 1), request(b"b" * 16, 7))

    assert retry.result() == ConsumeResult(duplicate=True)
    assert later.result() == ConsumeResult(duplicate=False)
    assert run.figures() == dict.fromkeys(TABLES, 23.0)


def test_while_the_store_is_away_nothing_else_is_written_before_the_cut_insert(run: Run) -> None:
    run.send(request(b"a" * 16, 10, 5, 1))
    (meanwhile,) = run.send(request(b"b" * 16, 7))
    assert isinstance(meanwhile.exception(), Unavailable)

    run.store.back()
    run.send(request(b"b" * 16, 7))
    (retry,) = run.send(request(b"a" * 16, 10, 5, 1))

    assert retry.result() == ConsumeResult(duplicate=True)
    assert run.figures() == dict.fromkeys(TABLES, 23.0)


def test_an_insert_whose_answer_was_lost_is_sent_again_whole_and_counts_once(runs: Callable[..., Run]) -> None:
    run = runs(AnswerLost)
    first, second = run.send(request(b"a" * 16, 10, 5, 1), request(b"b" * 16, 7))

    # Found stored, the same insert is sent again: the store skips what it has, and the senders hear it went well.
    assert first.result() == ConsumeResult(duplicate=False)
    assert second.result() == ConsumeResult(duplicate=False)
    assert run.figures() == dict.fromkeys(TABLES, 23.0)
    (retry,) = run.send(request(b"a" * 16, 10, 5, 1))
    assert retry.result() == ConsumeResult(duplicate=True)
    assert run.figures() == dict.fromkeys(TABLES, 23.0)


def test_an_insert_a_view_refused_after_its_table_took_it_is_held_until_the_store_takes_it_whole(
    runs: Callable[..., Run],
) -> None:
    run = runs(ViewRefuses)
    first, second = run.send(request(b"a" * 16, 10, 5, 1), request(b"c" * 16, 3))

    # Not a refusal of the requests (part of them is stored), and not written again batch by batch under other
    # tokens (that would count what the raw table and the other views took twice).
    assert isinstance(first.exception(), Unavailable) and isinstance(second.exception(), Unavailable)
    assert run.figures()["metric_points"] == 19 and run.figures()["member_daily"] == 0
    (meanwhile,) = run.send(request(b"d" * 16, 7))  # the held insert is refused again: nothing else is written
    assert isinstance(meanwhile.exception(), Unavailable)
    assert run.figures()["metric_points"] == 19 and run.figures()["member_daily"] == 0

    run.store.mend()
    (later,) = run.send(request(b"d" * 16, 7))
    retries = run.send(request(b"a" * 16, 10, 5, 1), request(b"c" * 16, 3))

    assert later.result() == ConsumeResult(duplicate=False)
    assert [retry.result() for retry in retries] == [ConsumeResult(duplicate=True)] * 2
    assert run.figures() == dict.fromkeys(TABLES, 26.0)


POISON = 4242


def test_a_real_view_that_refuses_a_value_leaves_every_figure_exact_once_mended(runs: Callable[..., Run]) -> None:
    """The engine decides what it keeps of an insert a view refuses (the raw table's part and some views', or
    nothing): whichever it kept, once the operator drops the view and the senders retry, each request counts
    once in every table."""
    run = runs()
    run.real.execute("CREATE TABLE poison_sink (value Float64) ENGINE = Null")
    run.real.execute(
        "CREATE MATERIALIZED VIEW poison_guard TO poison_sink AS "
        f"SELECT throwIf(value = {POISON}, 'the view refuses {POISON}') + value AS value FROM metric_points"
    )
    requests = [request(b"a" * 16, 10, 5, 1), request(b"c" * 16, POISON)]
    run.send(*requests)
    run.send(request(b"d" * 16, 7))

    run.real.execute("DROP VIEW poison_guard")
    answers = [run.send(batch)[0] for batch in (*requests, request(b"d" * 16, 7))]

    assert all(answer.exception() is None for answer in answers)
    assert run.figures() == dict.fromkeys(TABLES, 23.0 + POISON)
