"""tablesettings.py, packed parts and compact raw inserts: on the embedded engine a small part of every table is one
file, not a directory of a dozen, a raw table's insert of a gateway's size is one compact part, not a file per
column stream, and every figure is the same; a ClickHouse server keeps its operator's layout. On the real engine
(chDB), the server through tests/support/clickhouse_http.py."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from console import readmodels
from exporters.clickhouse import ClickHouseConfig, ClickHouseStore, create_store, tablesettings
from tests.integration.test_views_semantics import ALICE, LINES, metric, ns, write
from tests.support.clickhouse_http import ClickHouseHttpServer

PARTS = (
    "SELECT table, part_storage_type, path FROM system.parts "
    "WHERE database = currentDatabase() AND active AND table IN ('metric_points', 'member_daily', 'team_daily')"
)


def _write_three_edits(store: ClickHouseStore) -> int:
    """Three inserts of 10, 5 and 1 accepted lines; the accepted lines the analytics show for today."""
    today = datetime.now(UTC).date()
    for lines in (10, 5, 1):
        write(store, metric(LINES, lines, ns(today, 0), ALICE, type="added"))
    return readmodels.analytics(store, today, today)["totals"]["accepted_lines"]


def test_the_embedded_engine_writes_each_small_part_as_one_file(tmp_path: Path) -> None:
    store = create_store(ClickHouseConfig(dsn=f"chdb://{tmp_path / 'chdb'}"))
    try:
        store.execute("SYSTEM STOP MERGES")  # the parts as the inserts wrote them, none merged yet
        assert _write_three_edits(store) == 16
        parts = store.select(PARTS)
        assert sorted({(table, storage) for table, storage, _ in parts}) == [
            ("member_daily", "Packed"),
            ("metric_points", "Packed"),
            ("team_daily", "Packed"),
        ]
        assert len(parts) == 9  # an insert each into the table and the two rollups
        assert {tuple(sorted(os.listdir(path))) for _, _, path in parts} == {("data.packed",)}
        store.execute("SYSTEM START MERGES")
        store.execute("OPTIMIZE TABLE metric_points FINAL")  # a merge writes packed too, every row kept
        [(storage, path)] = [
            (storage, path) for table, storage, path in store.select(PARTS) if table == "metric_points"
        ]
        assert (storage, os.listdir(path)) == ("Packed", ["data.packed"])
        assert store.select("SELECT sum(value) FROM metric_points") == [(16.0,)]
    finally:
        store.close()


# 12 000 API requests of 1 KB of attributes each: ~13 MB uncompressed, past ClickHouse's default threshold for a
# wide part (10 MiB), as a gateway's drain group of events is.
LARGE_EVENTS_INSERT = (
    "INSERT INTO events (time, organization_id, member, event_name, cost_usd, body, attributes) "
    "SELECT toDateTime64('2026-11-30 12:00:00', 9, 'UTC') + number, 'org', 'alice@example.com', "
    "'api_request', 0.25, 'claude_code.api_request', "
    "map('request_id', leftPad(toString(number), 1000, '0')) FROM numbers(12000)"
)
EVENT_PARTS = (
    "SELECT part_type, rows, data_uncompressed_bytes FROM system.parts "
    "WHERE database = currentDatabase() AND active AND table = 'events'"
)


def test_the_embedded_engine_writes_a_raw_tables_large_insert_as_one_compact_part(tmp_path: Path) -> None:
    store = create_store(ClickHouseConfig(dsn=f"chdb://{tmp_path / 'chdb'}"))
    try:
        store.execute("SYSTEM STOP MERGES")
        store.execute(LARGE_EVENTS_INSERT)
        [(part_type, rows, uncompressed)] = store.select(EVENT_PARTS)
        assert (part_type, rows) == ("Compact", 12_000)
        assert uncompressed > 10 * 1024 * 1024
        assert store.select("SELECT count(), sum(cost_usd) FROM events") == [(12_000, 3000.0)]
        # The rollup the API request panels read counts every one of them.
        assert store.select("SELECT sum(events) FROM event_calls_5m WHERE event_name = 'api_request'") == [(12_000,)]
    finally:
        store.close()


def test_a_clickhouse_server_keeps_its_part_layout(clickhouse_server: ClickHouseHttpServer) -> None:
    dsn = clickhouse_server.dsn(clickhouse_server.new_database())
    store = create_store(ClickHouseConfig(dsn))
    try:
        assert _write_three_edits(store) == 16
        assert {storage for _, storage, _ in store.select(PARTS)} == {"Full"}
        engines = dict(store.select("SELECT name, engine_full FROM system.tables WHERE database = currentDatabase()"))
        assert {tablesettings.setting_value(engines[t], tablesettings.PACKED_PART_SETTING) for t in engines} == {None}
        assert {tablesettings.setting_value(engines[t], tablesettings.COMPACT_PART_SETTING) for t in engines} == {None}
        store.execute(LARGE_EVENTS_INSERT)
        assert [(part_type, rows) for part_type, rows, _ in store.select(EVENT_PARTS)] == [("Wide", 12_000)]
    finally:
        store.close()
