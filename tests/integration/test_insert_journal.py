"""An insert cut short between its parts is made whole at the next start, once (exporters/clickhouse/insert_journal.py).

A process killed during an insert can leave the raw table's part committed and a materialized view's part not.
That state is built here on the real engine (the real collector is also killed during its inserts, at the end): the view that fills `member_daily` (and, through it,
`member_monthly`) is detached while the writer inserts, and the writer's journal is left as a crash leaves it.
The next start sends the journaled insert again: the rollup that missed it gets its rows, and the tables that
had them are not counted twice.
"""

from __future__ import annotations

import time
from pathlib import Path

from exporters.clickhouse import ClickHouseConfig, ClickHouseStore, create_store
from exporters.clickhouse.insert_journal import FILE_NAME, InsertJournal
from exporters.clickhouse.rows import POINT_COLUMNS, point_columns
from pdata import Member, MetricPoint, PointFact
from tests.support import otlp_raw
from tests.support.children import eventually
from tests.support.collector import CollectorProcess

ALICE = Member("alice@example.com", "email", "org-acme", "core")
LINES = "claude_code.lines_of_code.count"


def _accepted(lines: float, digest: bytes) -> PointFact:
    now = time.time_ns()
    attributes = {"session.id": "sess-1", "user.email": ALICE.member, "type": "added"}
    point = MetricPoint(LINES, "count", 1, True, now - 1, now, lines, attributes, {"service.name": "claude-code"})
    return PointFact(point, ALICE, lines, 0, "lines_added", "", digest, now)


def _figures(store: ClickHouseStore) -> dict[str, float]:
    """Accepted lines as each table says: the raw rows and every rollup the views read."""
    tables = {
        "metric_points": "sumIf(value, fact = 'lines_added')",
        "member_hourly": "sum(accepted_lines)",
        "team_daily": "sum(accepted_lines)",
        "member_daily": "sum(accepted_lines)",
        "member_monthly": "sum(accepted_lines)",
    }
    return {table: float(store.select(f"SELECT {total} FROM {table}")[0][0]) for table, total in tables.items()}


def _config(tmp_path: Path) -> ClickHouseConfig:
    return ClickHouseConfig(f"chdb://{tmp_path / 'chdb'}", journal_dir=str(tmp_path))


def test_an_insert_cut_short_before_a_views_part_is_completed_once_at_the_next_start(tmp_path: Path) -> None:
    store = create_store(_config(tmp_path))
    store.write([_accepted(7, b"a" * 16)], [])
    facts = [_accepted(10, b"b" * 16), _accepted(5, b"b" * 16), _accepted(1, b"b" * 16)]
    store.execute("DETACH TABLE member_daily_from_points")
    store.write(facts, [])  # the raw part and the other views' parts are committed, member_daily's is not
    store.execute("ATTACH TABLE member_daily_from_points")
    # The journal as the writer leaves it when killed before the insert returned.
    body = store.insert_body("metric_points", POINT_COLUMNS, point_columns(facts))
    InsertJournal(tmp_path, fsync=False).begin("metric_points", POINT_COLUMNS, body)
    short = {
        "metric_points": 23.0,
        "member_hourly": 23.0,
        "team_daily": 23.0,
        "member_daily": 7.0,
        "member_monthly": 7.0,
    }
    assert _figures(store) == short
    store.close()

    restarted = create_store(_config(tmp_path))
    whole = dict.fromkeys(short, 23.0)
    assert _figures(restarted) == whole
    assert not (tmp_path / FILE_NAME).exists()
    restarted.close()

    # A journal of an insert that was whole already (a crash right after the insert, before the file went) adds
    # nothing: every part of it is skipped.
    InsertJournal(tmp_path, fsync=False).begin("metric_points", POINT_COLUMNS, body)
    again = create_store(_config(tmp_path))
    assert _figures(again) == whole
    again.close()


def test_an_insert_the_process_never_sent_is_written_once_at_the_next_start(tmp_path: Path) -> None:
    # Killed after the journal was renamed into place and before the insert reached the engine.
    store = create_store(_config(tmp_path))
    body = store.insert_body("metric_points", POINT_COLUMNS, point_columns([_accepted(3, b"c" * 16)]))
    InsertJournal(tmp_path, fsync=False).begin("metric_points", POINT_COLUMNS, body)
    store.close()
    restarted = create_store(_config(tmp_path))
    assert _figures(restarted) == dict.fromkeys(
        ("metric_points", "member_hourly", "team_daily", "member_daily", "member_monthly"), 3.0
    )
    restarted.close()


def test_a_retry_of_the_same_rows_after_a_failed_insert_is_not_counted_twice(tmp_path: Path) -> None:
    # The queue drains the same records in the same order after a failure: the same rows, the same token.
    store = create_store(_config(tmp_path))
    facts = [_accepted(4, b"d" * 16), _accepted(2, b"d" * 16)]
    store.write(facts, [])
    store.write(facts, [])
    assert _figures(store) == dict.fromkeys(
        ("metric_points", "member_hourly", "team_daily", "member_daily", "member_monthly"), 6.0
    )
    store.close()


def test_a_damaged_journal_is_logged_and_set_aside_and_the_store_opens(tmp_path: Path, caplog) -> None:
    store = create_store(_config(tmp_path))
    body = store.insert_body("metric_points", POINT_COLUMNS, point_columns([_accepted(9, b"e" * 16)]))
    store.close()
    journal = tmp_path / FILE_NAME
    InsertJournal(tmp_path, fsync=False).begin("metric_points", POINT_COLUMNS, body)
    data = bytearray(journal.read_bytes())
    data[-5] ^= 0x40
    journal.write_bytes(bytes(data))
    with caplog.at_level("ERROR", logger="cc_analytics.store"):
        reopened = create_store(_config(tmp_path))
    assert "store.insert_journal_damaged" in caplog.text
    assert not journal.exists()
    assert _figures(reopened)["metric_points"] == 0.0
    reopened.close()


# --- the real collector, killed while its writer is inserting ---------------------------------------------------

ORG = "org-killed-mid-insert"
ROUNDS = 6
REQUESTS_PER_ROUND = 30
# After the journal appears (the insert has begun), the kill waits this long: from the insert's first rows to its
# parts' commits, which is where a crash leaves some tables with the rows and some without.
KILL_DELAYS_S = (0.0, 0.008, 0.016, 0.024, 0.032, 0.040)


def _killed_during_an_insert(collector: CollectorProcess, delay_s: float) -> bool:
    """SIGKILL once the writer has begun an insert (its journal is in place) and `delay_s` later; whether the
    insert was still unfinished when the process died."""
    journal = collector.data_dir / FILE_NAME
    deadline = time.monotonic() + 30
    while not journal.exists():
        assert time.monotonic() < deadline, "the writer never began an insert"
        time.sleep(0.0005)
    time.sleep(delay_s)
    collector.kill()
    return journal.exists()


def test_a_collector_killed_during_its_inserts_gives_exact_figures_after_restarts(tmp_path: Path) -> None:
    # Many small groups (6 items each) drained at once: inserts follow each other, one is always close.
    env = {
        "CC_ANALYTICS_QUEUE_MODE": "wal",
        "CC_ANALYTICS_QUEUE_FSYNC": "never",
        "CC_ANALYTICS_QUEUE_DRAIN_INTERVAL_MS": "0",
        "CC_ANALYTICS_QUEUE_DRAIN_GROUP_ITEMS": "6",
    }
    collector = CollectorProcess(data_dir=tmp_path / "data", extra_env=env)
    base_ns = otlp_raw.now_ns()
    requests = [
        otlp_raw.edit_request(ORG, lines=index % 5 + 1, session=f"s{index}", time_ns=base_ns + index)
        for index in range(ROUNDS * REQUESTS_PER_ROUND)
    ]
    interrupted = 0
    try:
        for round_, delay_s in enumerate(KILL_DELAYS_S):
            collector.start()
            for request in requests[round_ * REQUESTS_PER_ROUND : (round_ + 1) * REQUESTS_PER_ROUND]:
                otlp_raw.send(collector, "http/protobuf", request)  # acknowledged: in the queue's log
            interrupted += _killed_during_an_insert(collector, delay_s)
        collector.start()
        lines = sum(index % 5 + 1 for index in range(len(requests)))
        expected = otlp_raw.edit_figures(lines, accepts=len(requests), sessions=len(requests))
        assert eventually(lambda: otlp_raw.figures(collector, ORG), expected, 120, every_s=0.5) == expected
        # Every kill that found an insert unfinished left its journal, and each next start completed it.
        assert interrupted > 0
        assert collector.log().count("store.interrupted_insert_completed") == interrupted
    finally:
        collector.kill()
