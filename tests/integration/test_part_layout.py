"""tablesettings.py, packed parts: on the embedded engine a small part of every table is one file, not a directory of
a dozen, and every figure is the same; a ClickHouse server keeps its operator's layout. On the real engine (chDB),
the server through tests/support/clickhouse_http.py."""

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


def test_a_clickhouse_server_keeps_its_part_layout(clickhouse_server: ClickHouseHttpServer) -> None:
    dsn = clickhouse_server.dsn(clickhouse_server.new_database())
    store = create_store(ClickHouseConfig(dsn))
    try:
        assert _write_three_edits(store) == 16
        assert {storage for _, storage, _ in store.select(PARTS)} == {"Full"}
        engines = dict(store.select("SELECT name, engine_full FROM system.tables WHERE database = currentDatabase()"))
        assert {tablesettings.setting_value(engines[t], tablesettings.PACKED_PART_SETTING) for t in engines} == {None}
    finally:
        store.close()
