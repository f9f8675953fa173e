"""An insert the store went away in the middle of is sent again whole before anything else is written, and the
retries of its requests are duplicates (collector/pipeline.py, `_keep_if_cut_short`): every rollup counts them
once, whether the processors read what is stored (dedup.shared, a server) or not (the embedded store).

The state a server killed during an insert leaves is built on the real engine, as in test_insert_journal.py:
the view that fills `member_daily` (and, through it, `member_monthly`) is detached while the insert runs, so the
raw table's part and the other views' parts are committed and member_daily's is not; the store then stops
answering until the test brings it back (a fault the real engine cannot be made to show on demand). The
processor chain, the pipeline and the store are real.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path

import pytest

from collector.pipeline import Pipeline, PipelineConfig
from exporters.clickhouse import ClickHouseConfig, ClickHouseStore, StoreUnavailable, create_store
from pdata import Batch, EventFact, MetricPoint, PointFact, Sender
from pdata.consumer import ConsumeResult, Unavailable
from pdata.store import PreparedFacts
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
    "org_daily": "sum(accepted_lines)",
    "member_daily": "sum(accepted_lines)",
    "member_monthly": "sum(accepted_lines)",
}


class StoreGoesAway:
    """The real store; its first insert is cut short (member_daily's part not written) and the store then stops
    answering until `back()`."""

    def __init__(self, store: ClickHouseStore) -> None:
        self.store = store
        self.reachable = True
        self._cut_next = True

    def prepare(self, points: Sequence[PointFact], events: Sequence[EventFact]) -> PreparedFacts:
        return self.store.prepare(points, events)

    def write_prepared(self, prepared: PreparedFacts) -> None:
        if not self.reachable:
            raise StoreUnavailable("Code: 210. connection refused")
        if not self._cut_next:
            self.store.write_prepared(prepared)
            return
        self._cut_next = False
        self.store.execute("DETACH TABLE member_daily_from_points")
        try:
            self.store.write_prepared(prepared)
        finally:
            self.store.execute("ATTACH TABLE member_daily_from_points")
        self.reachable = False
        raise StoreUnavailable("Code: 210. connection reset by peer during the insert")

    def ping(self) -> bool:
        return self.reachable

    def back(self) -> None:
        self.reachable = True


def request(digest: bytes, *lines: float) -> Batch:
    now = time.time_ns()
    attributes = {"session.id": "sess-1", "user.email": "alice@example.com", "type": "added"}
    points = [
        MetricPoint(LINES, "count", DELTA, True, now - 1, now + index, value, attributes, {"service.name": "cc"})
        for index, value in enumerate(lines)
    ]
    return Batch(signal="metrics", digest=digest, sender=Sender(), received_ns=now, points=points)


class Run:
    def __init__(self, directory: Path, shared: bool) -> None:
        self.real = create_store(ClickHouseConfig(f"chdb://{directory / 'chdb'}", journal_dir=str(directory)))
        self.store = StoreGoesAway(self.real)
        stored = self.real.stored_request_digests if shared else None
        self.chain = ProcessorChain(IdentityResolver(), CumulativeToDelta(), RequestDeduplicator(10**15, stored))
        self.pipeline = Pipeline(self.chain, self.store, PipelineConfig(linger_s=0.0, max_linger_s=0.0))
        self.pipeline.start()

    def send(self, *batches: Batch) -> list[Future[ConsumeResult]]:
        futures = [self.pipeline.consume(batch) for batch in batches]
        for future in futures:
            future.exception(WAIT_S)
        return futures

    def figures(self) -> dict[str, float]:
        return {table: float(self.real.select(f"SELECT {total} FROM {table}")[0][0]) for table, total in TABLES.items()}

    def close(self) -> None:
        self.pipeline.close(timeout_s=10)
        self.real.close()


@pytest.fixture(params=[True, False], ids=["dedup-shared", "dedup-in-memory"])
def run(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Run]:
    run = Run(tmp_path, shared=request.param)
    yield run
    run.close()


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
