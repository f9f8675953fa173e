"""Once a group is written and answered, the writer holds none of it: not its batches, not its facts, not its
insert bodies (collector/writes.py `Write.clear`, collector/pipeline.py `Pipeline._step`). After a burst, the
memory a group took is free while the writer waits for the next batch, and while the next group is processed,
the one before it is let go as soon as it is answered instead of being held until the next group's insert starts.
An insert's columns are freed when it returns, not left in a reference cycle for the cyclic garbage collector's
next full pass (exporters/clickhouse/store.py `_native_body`), which comes rarely in a busy writer.

The processor chain, the pipeline and the store (the embedded engine) are real; what is held is counted among
the objects the garbage collector tracks, by an attribute only this test's points carry.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from datetime import date
from pathlib import Path

import pytest

from collector.pipeline import Pipeline, PipelineConfig
from exporters.clickhouse import ClickHouseConfig, ClickHouseStore, create_store
from exporters.clickhouse.summaries import IDS_COLUMNS
from pdata import Batch, MetricPoint, Sender
from pdata.consumer import ConsumeResult
from processors.chain import ProcessorChain
from processors.dedup import RequestDeduplicator
from processors.identity import IdentityResolver
from processors.temporality import CumulativeToDelta

WAIT_S = 30.0
DELTA = 1
LINES = "claude_code.lines_of_code.count"
MARKER = "test.held_by_the_writer"


def request(digest: bytes, group: str, lines: list[float]) -> Batch:
    now = time.time_ns()
    points = [
        MetricPoint(
            LINES,
            "count",
            DELTA,
            True,
            now - 1,
            now + index,
            value,
            {"session.id": f"sess-{group}", "user.email": "alice@example.com", "type": "added", MARKER: group},
            {"service.name": "cc"},
        )
        for index, value in enumerate(lines)
    ]
    return Batch(signal="metrics", digest=digest, sender=Sender(), received_ns=now, points=points)


def held(group: str) -> int:
    """The points of `group` that some object still refers to."""
    gc.collect()
    return sum(1 for obj in gc.get_objects() if isinstance(obj, MetricPoint) and obj.attributes.get(MARKER) == group)


def held_after(group: str, timeout_s: float = 5.0) -> int:
    """`held(group)` once it is 0, or after `timeout_s` (the writer lets go of a group a moment after answering)."""
    deadline = time.monotonic() + timeout_s
    while (count := held(group)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return count


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ClickHouseStore]:
    made = create_store(ClickHouseConfig(f"chdb://{tmp_path / 'chdb'}", journal_dir=str(tmp_path)))
    yield made
    made.close()


@pytest.fixture
def pipeline(store: ClickHouseStore) -> Iterator[Pipeline]:
    chain = ProcessorChain(IdentityResolver(), CumulativeToDelta(), RequestDeduplicator(10**15))
    made = Pipeline(chain, store, PipelineConfig(linger_s=0.0, max_linger_s=0.0))
    made.start()
    yield made
    made.close(timeout_s=10)


def send(pipeline: Pipeline, digest: bytes, group: str, lines: list[float]) -> Future[ConsumeResult]:
    """Consumed from a frame of its own: the test keeps only the future, as a receiver does once answered."""
    return pipeline.consume(request(digest, group, lines))


def accepted_lines(store: ClickHouseStore) -> float:
    return float(store.select("SELECT sumIf(value, fact = 'lines_added') FROM metric_points")[0][0])


def test_a_written_group_is_let_go_once_answered_while_the_writer_waits(
    pipeline: Pipeline, store: ClickHouseStore
) -> None:
    future = send(pipeline, b"a" * 16, "first", [10.0, 5.0, 1.0] * 100)
    assert future.result(WAIT_S) == ConsumeResult(duplicate=False)
    del future

    assert held_after("first") == 0
    assert accepted_lines(store) == 1_600.0


def test_each_group_of_a_stream_is_let_go_once_answered(pipeline: Pipeline, store: ClickHouseStore) -> None:
    for index in range(5):
        future = send(pipeline, bytes([index]) * 16, f"group-{index}", [2.0] * 200)
        future.result(WAIT_S)
        del future
        assert held_after(f"group-{index}") == 0, f"group {index} is still held after its answer"

    assert accepted_lines(store) == 2_000.0


def left_to_the_cyclic_collector(write: Callable[[], None]) -> int:
    """Bytes that `write` allocated and that only the cyclic garbage collector would free (its passes held off)."""
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        write()
        held_before = tracemalloc.get_traced_memory()[0]
        gc.collect()
        return held_before - tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
        gc.enable()


def test_an_insert_leaves_none_of_its_columns_to_the_cyclic_collector(store: ClickHouseStore) -> None:
    chain = ProcessorChain(IdentityResolver(), CumulativeToDelta(), RequestDeduplicator(10**15))
    processed = chain.process([request(b"c" * 16, "cycles", [10.0, 5.0, 1.0] * 2_000)])

    left = left_to_the_cyclic_collector(lambda: store.write(processed.points, processed.events))

    # 6 000 rows' columns are ~2 MB; a few hundred bytes of the engine client's own bookkeeping may remain.
    assert left < 64 * 1024
    assert accepted_lines(store) == 32_000.0


def test_the_day_summaries_kept_ids_insert_leaves_none_of_its_rows_to_the_cyclic_collector(
    store: ClickHouseStore,
) -> None:
    rows = [("org", date(2026, 12, 7), "members", index) for index in range(20_000)]

    left = left_to_the_cyclic_collector(lambda: store.insert_rows("day_summary_ids", IDS_COLUMNS, rows))

    assert left < 64 * 1024
    assert store.select("SELECT count() FROM day_summary_ids")[0][0] == 20_000
