"""The embedded store lends several handles of its one engine (storage.pool_size), as a server's clients are: a
read is answered while another handle is busy with a long statement (an insert under load), instead of waiting
for it to end; and the writer's inserts have a handle of their own, so reads holding every pooled handle never
delay one."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from exporters.clickhouse import ClickHouseConfig, ClickHouseStore, create_store
from tests.integration.test_views_semantics import LINES, metric, ns, write

ALICE = {"user.email": "alice@example.com", "session.id": "s1"}


@contextmanager
def busy_handle(store: ClickHouseStore) -> Iterator[threading.Event]:
    """A pooled handle busy with a 3 s statement (sleepEachRow over 6 rows of 0.5 s) for the block, which starts
    once the statement is in the engine; the event is set when it ended. Leaving the block waits for it."""
    started, ended = threading.Event(), threading.Event()

    def busy() -> None:
        started.set()
        store.select("SELECT sum(sleepEachRow(0.5)) FROM numbers(6)")
        ended.set()

    thread = threading.Thread(target=busy)
    thread.start()
    started.wait()
    time.sleep(0.3)
    try:
        yield ended
    finally:
        thread.join()


@pytest.fixture
def one_handle(tmp_path: Path) -> Iterator[ClickHouseStore]:
    """An embedded store of the test's own lending a single handle to its readers (storage.pool_size=1)."""
    opened = create_store(ClickHouseConfig(dsn=f"chdb://{tmp_path / 'chdb'}", pool_size=1))
    yield opened
    opened.close()


def test_a_read_is_answered_while_another_handle_is_busy(store: ClickHouseStore) -> None:
    write(store, metric(LINES, 7, ns(datetime.now(UTC).date()), ALICE, type="added"))
    with busy_handle(store) as busy_ended:
        accepted = store.select("SELECT sum(value) FROM metric_points")
        answered_while_busy = not busy_ended.is_set()
    assert accepted == [(7.0,)]
    assert answered_while_busy and busy_ended.is_set()


def test_with_one_handle_the_read_waits_for_the_busy_one(one_handle: ClickHouseStore) -> None:
    # What the pool changes: lent one handle, the same read is answered only once the long statement ends.
    with busy_handle(one_handle) as busy_ended:
        one_handle.select("SELECT 1")
        assert busy_ended.is_set()


def test_an_insert_does_not_wait_for_reads_holding_every_pooled_handle(one_handle: ClickHouseStore) -> None:
    today = ns(datetime.now(UTC).date())
    write(one_handle, metric(LINES, 10, today, ALICE, type="added"))  # the tables' column types asked once, before
    with busy_handle(one_handle) as busy_ended:
        write(one_handle, metric(LINES, 5, today, ALICE, type="added"))
        inserted_while_busy = not busy_ended.is_set()
    assert inserted_while_busy
    assert one_handle.select("SELECT sum(value) FROM metric_points") == [(15.0,)]
