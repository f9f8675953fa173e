"""The cluster DDL rendered from the migration files: names, engines, macros, sharding keys, and the table
settings (retention TTL, fsync) as ALTERs. tests/integration/test_clickhouse_server.py parses every one of
these statements with the engine's own parser."""

from __future__ import annotations

import re

import pytest

from exporters.clickhouse import cluster, tablesettings
from exporters.clickhouse.migrations import SchemaDdl, control_statements, load_migrations

CLUSTER = "analytics"
TABLES = {
    # table: (engine on one server, sharding key on the cluster)
    "schema_migrations": ("MergeTree", "0"),
    "schema_migrations_lock": ("MergeTree", "0"),
    "metric_points": ("MergeTree", "cityHash64(organization_id, member)"),
    "events": ("MergeTree", "cityHash64(organization_id, member)"),
    "member_hourly": ("AggregatingMergeTree", "cityHash64(organization_id, member)"),
    "tool_decisions_hourly": ("AggregatingMergeTree", "cityHash64(organization_id, member)"),
    "model_usage_hourly": ("AggregatingMergeTree", "cityHash64(organization_id, member)"),
    "org_daily": ("AggregatingMergeTree", "cityHash64(organization_id)"),
    "member_daily": ("AggregatingMergeTree", "cityHash64(organization_id, member)"),
    "tool_decisions_daily": ("AggregatingMergeTree", "cityHash64(organization_id)"),
    "org_monthly": ("AggregatingMergeTree", "cityHash64(organization_id)"),
    "member_monthly": ("AggregatingMergeTree", "cityHash64(organization_id, member)"),
    "tool_decisions_monthly": ("AggregatingMergeTree", "cityHash64(organization_id)"),
    "tool_decisions_team_hourly": ("AggregatingMergeTree", "cityHash64(organization_id)"),
    "session_hourly": ("AggregatingMergeTree", "cityHash64(organization_id, member)"),
    "model_team_hourly": ("AggregatingMergeTree", "cityHash64(organization_id)"),
    "org_daily_all_teams": ("AggregatingMergeTree", "cityHash64(organization_id)"),
    "session_days": ("AggregatingMergeTree", "cityHash64(organization_id)"),
    "day_rows": ("AggregatingMergeTree", "cityHash64(organization_id)"),
    "day_summaries": ("ReplacingMergeTree", "cityHash64(organization_id)"),
    "team_daily": ("AggregatingMergeTree", "cityHash64(organization_id)"),
    "day_summary_ids": ("ReplacingMergeTree", "cityHash64(organization_id)"),
    "event_calls_5m": ("AggregatingMergeTree", "cityHash64(organization_id)"),
    "api_latency_5m": ("AggregatingMergeTree", "cityHash64(organization_id)"),
}
# Engine arguments kept after the replication path and name: a ReplacingMergeTree's version column.
ENGINE_ARGUMENTS = {"day_summaries": ", computed_at"}
# Created by 0003 and dropped by 0010, whose views fill team_daily instead.
DROPPED_VIEWS = {
    "org_daily_from_points": ("org_daily", "metric_points"),
    "org_daily_from_events": ("org_daily", "events"),
}
# Dropped by 0010 and created again on team_daily.
RECREATED_VIEWS = ("org_monthly_from_daily", "org_daily_all_teams_from_daily")
VIEWS = {
    # view: (target, source), as the migrations leave it
    "member_hourly_from_points": ("member_hourly", "metric_points"),
    "member_hourly_from_events": ("member_hourly", "events"),
    "tool_decisions_hourly_from_points": ("tool_decisions_hourly", "metric_points"),
    "model_usage_hourly_from_points": ("model_usage_hourly", "metric_points"),
    "team_daily_from_points": ("team_daily", "metric_points"),
    "team_daily_from_events": ("team_daily", "events"),
    "member_daily_from_points": ("member_daily", "metric_points"),
    "member_daily_from_events": ("member_daily", "events"),
    "tool_decisions_daily_from_points": ("tool_decisions_daily", "metric_points"),
    # the monthly rollups are filled from the daily ones, the per-team hourly one from the per-member, shard by shard
    "org_monthly_from_daily": ("org_monthly", "team_daily"),
    "member_monthly_from_daily": ("member_monthly", "member_daily"),
    "tool_decisions_monthly_from_daily": ("tool_decisions_monthly", "tool_decisions_daily"),
    "tool_decisions_team_hourly_from_hourly": ("tool_decisions_team_hourly", "tool_decisions_hourly"),
    # no rollup keeps session ids, so the per-session one reads the raw tables
    "session_hourly_from_points": ("session_hourly", "metric_points"),
    "session_hourly_from_events": ("session_hourly", "events"),
    # nor by model and team with the lines and API calls: the per-model one reads them too
    "model_team_hourly_from_points": ("model_team_hourly", "metric_points"),
    "model_team_hourly_from_events": ("model_team_hourly", "events"),
    # the whole organization's days from the per-team ones, shard by shard (an organization is on one shard)
    "org_daily_all_teams_from_daily": ("org_daily_all_teams", "team_daily"),
    # the sessions of each day from the per-session hours, and their fingerprint after them (0009)
    "session_days_from_hourly": ("session_days", "session_hourly"),
    "day_rows_from_session_days": ("day_rows", "session_days"),
    "day_rows_from_member_daily": ("day_rows", "member_daily"),
    # the API and tool panels' counts from the raw events, by team and model or tool (0013)
    "event_calls_5m_from_events": ("event_calls_5m", "events"),
    # the API latency sketches, of every team together and per team (0014)
    "api_latency_5m_from_events": ("api_latency_5m", "events"),
}
BACKFILLS = ("org_daily", "member_daily", "tool_decisions_daily", "org_monthly", "member_monthly",
             "tool_decisions_monthly", "tool_decisions_team_hourly", "session_hourly", "model_team_hourly", "org_daily_all_teams", "session_days", "day_rows", "team_daily", "org_monthly",
             "org_daily_all_teams", "event_calls_5m", "api_latency_5m")  # fmt: skip
# 0014: the per-model rollup's views stop collecting every duration, then that column is dropped, on the
# Distributed table and on the local ones.
MODIFIED_VIEWS = {"model_team_hourly_from_events": "events", "model_team_hourly_from_points": "metric_points"}
DROPPED_COLUMNS = (
    "ALTER TABLE model_team_hourly ON CLUSTER `analytics` DROP COLUMN IF EXISTS api_request_durations",
    "ALTER TABLE model_team_hourly_local ON CLUSTER `analytics` DROP COLUMN IF EXISTS api_request_durations",
)
# 0010 and 0011: views dropped, tables emptied before they are filled again, org_daily dropped.
DROPS = (
    "DROP VIEW IF EXISTS org_daily_from_points ON CLUSTER `analytics`",
    "DROP VIEW IF EXISTS org_daily_from_events ON CLUSTER `analytics`",
    "DROP VIEW IF EXISTS org_monthly_from_daily ON CLUSTER `analytics`",
    "DROP VIEW IF EXISTS org_daily_all_teams_from_daily ON CLUSTER `analytics`",
    "TRUNCATE TABLE IF EXISTS team_daily_local ON CLUSTER `analytics`",
    "TRUNCATE TABLE IF EXISTS org_monthly_local ON CLUSTER `analytics`",
    "TRUNCATE TABLE IF EXISTS org_daily_all_teams_local ON CLUSTER `analytics`",
    "DROP TABLE IF EXISTS org_daily ON CLUSTER `analytics`",
    "DROP TABLE IF EXISTS org_daily_local ON CLUSTER `analytics` SYNC",
)
# Skip indexes of the shared-state lookups (0004): (table, index, column).
INDEXES = (
    ("metric_points", "request_digest_bloom", "request_digest"),
    ("metric_points", "series_key_bloom", "series_key"),
    ("events", "request_digest_bloom", "request_digest"),
)


@pytest.fixture(scope="module")
def rendered() -> list[str]:
    return SchemaDdl(CLUSTER).every_statement()


def test_one_server_runs_the_files_as_written() -> None:
    ddl = SchemaDdl()
    assert ddl.every_statement() == control_statements() + [s for m in load_migrations() for s in m.statements]
    assert ddl.tables == list(TABLES)


def test_every_table_is_a_replicated_local_table_behind_a_distributed_one(rendered: list[str]) -> None:
    creates = [s for s in rendered if s.startswith("CREATE TABLE")]
    assert len(creates) == 2 * len(TABLES)
    for table, (engine, key) in TABLES.items():
        local = [
            s for s in creates if s.startswith(f"CREATE TABLE IF NOT EXISTS {table}_local ON CLUSTER `{CLUSTER}`\n")
        ]
        assert len(local) == 1, table
        assert (
            f"ENGINE = Replicated{engine}('/clickhouse/tables/{{shard}}/{{database}}/{{table}}', '{{replica}}'"
            f"{ENGINE_ARGUMENTS.get(table, '')})" in local[0]
        )
        front = f"CREATE TABLE IF NOT EXISTS {table} ON CLUSTER `{CLUSTER}` AS {table}_local\n" \
                f"ENGINE = Distributed('{CLUSTER}', currentDatabase(), '{table}_local', {key})"  # fmt: skip
        assert creates.count(front) == 1, table
    # The local tables keep everything else of the file's definition.
    metric_points = next(s for s in creates if s.startswith("CREATE TABLE IF NOT EXISTS metric_points_local"))
    assert metric_points.endswith("PARTITION BY toYYYYMM(time)\nORDER BY (organization_id, metric, member, time)")
    lock = next(s for s in creates if s.startswith("CREATE TABLE IF NOT EXISTS schema_migrations_lock_local"))
    assert lock.endswith("SETTINGS non_replicated_deduplication_window = 1000")


def test_every_view_reads_and_fills_local_tables(rendered: list[str]) -> None:
    views = [s for s in rendered if s.startswith("CREATE MATERIALIZED VIEW")]
    assert len(views) == len(VIEWS) + len(DROPPED_VIEWS) + len(RECREATED_VIEWS)
    for view, (target, source) in {**DROPPED_VIEWS, **VIEWS}.items():
        found = [s for s in views if s.startswith(f"CREATE MATERIALIZED VIEW IF NOT EXISTS {view} ")]
        assert len(found) == 1 + (view in RECREATED_VIEWS), view
        assert found[-1].startswith(
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {view} ON CLUSTER `{CLUSTER}` TO {target}_local AS\n"
        )
        assert re.findall(r"\bFROM (\w+)", found[-1]) == [f"{source}_local"]
        # Columns named like tables (`events`, the count of events) are left alone.
        if target == "member_hourly":
            assert "AS events" in found[-1]


def test_views_are_dropped_and_tables_emptied_and_dropped_on_the_cluster(rendered: list[str]) -> None:
    drops = [s for s in rendered if s.startswith(("DROP", "TRUNCATE"))]
    assert drops == list(DROPS)
    # The views that filled org_daily are dropped before the table they fill is: nothing writes to it after.
    assert rendered.index(DROPS[0]) < rendered.index(DROPS[-1])


def test_backfills_run_once_through_the_distributed_tables(rendered: list[str]) -> None:
    inserts = [s for s in rendered if s.startswith("INSERT")]
    assert [s.split()[2] for s in inserts] == list(BACKFILLS)
    assert all("_local" not in s for s in inserts)
    every_migration_statement = [s for m in load_migrations() for s in m.statements]
    assert all(s in every_migration_statement for s in inserts)
    assert len(rendered) == (
        2 * len(TABLES)
        + len(VIEWS)
        + len(DROPPED_VIEWS)
        + len(RECREATED_VIEWS)
        + len(BACKFILLS)
        + len(INDEXES)
        + len(DROPS)
        + len(MODIFIED_VIEWS)
        + len(DROPPED_COLUMNS)
    )


def test_skip_indexes_are_added_to_the_local_tables_on_the_cluster(rendered: list[str]) -> None:
    alters = [s for s in rendered if s.startswith("ALTER") and " ADD INDEX " in s]
    assert alters == [
        f"ALTER TABLE {table}_local ON CLUSTER `{CLUSTER}` ADD INDEX IF NOT EXISTS {name} {column} "
        "TYPE bloom_filter(0.01) GRANULARITY 1"
        for table, name, column in INDEXES
    ]


def test_a_views_query_is_modified_on_the_cluster_reading_local_tables_before_a_column_is_dropped(
    rendered: list[str],
) -> None:
    modified = [s for s in rendered if " MODIFY QUERY" in s]
    assert [s.split()[2] for s in modified] == list(MODIFIED_VIEWS)
    for statement, source in zip(modified, MODIFIED_VIEWS.values(), strict=True):
        assert statement.startswith(f"ALTER TABLE {statement.split()[2]} ON CLUSTER `{CLUSTER}` MODIFY QUERY\nSELECT")
        assert re.findall(r"\bFROM (\w+)", statement) == [f"{source}_local"]
        assert "api_request_durations" not in statement
    dropped = [s for s in rendered if " DROP COLUMN " in s]
    assert dropped == list(DROPPED_COLUMNS)
    assert max(rendered.index(s) for s in modified) < rendered.index(dropped[0])


def test_a_statement_without_a_rule_is_refused_by_name() -> None:
    with pytest.raises(cluster.ClusterDdlError, match="no cluster rule for statement: ALTER TABLE metric_points"):
        cluster.render(["ALTER TABLE metric_points ADD COLUMN x UInt8"], CLUSTER)
    with pytest.raises(cluster.ClusterDdlError, match="no cluster rule for statement: ALTER TABLE metric_points"):
        cluster.render(["ALTER TABLE metric_points DROP COLUMN x"], CLUSTER)  # without IF EXISTS: not idempotent
    with pytest.raises(cluster.ClusterDdlError, match="must be letters"):
        cluster.render(["CREATE TABLE t (a UInt8) ENGINE = MergeTree ORDER BY a"], "a cluster; DROP")


ENGINE_FULL = "MergeTree PARTITION BY toYYYYMM(time) ORDER BY (organization_id, metric, member, time) SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 1000, vertical_merge_algorithm_min_rows_to_activate = 1"
ROLLUP_FULL = "AggregatingMergeTree PARTITION BY toYYYYMM(day) ORDER BY (organization_id, team, day) SETTINGS index_granularity = 64, non_replicated_deduplication_window = 1000"


def test_retention_and_fsync_are_altered_only_where_they_differ() -> None:
    tables = {
        "metric_points": ENGINE_FULL,
        "events": ENGINE_FULL.replace("metric,", "event_name,"),
        "team_daily": ROLLUP_FULL,
    }
    assert tablesettings.changes(tables, tablesettings.TablePolicy(400, False)) == [
        "ALTER TABLE events MODIFY TTL toDateTime(time) + INTERVAL 400 DAY",
        "ALTER TABLE metric_points MODIFY TTL toDateTime(time) + INTERVAL 400 DAY",
    ]
    applied = {
        "metric_points": ENGINE_FULL.replace(" SETTINGS", " TTL toDateTime(time) + toIntervalDay(400) SETTINGS")
        + ", fsync_after_insert = 1, fsync_part_directory = 1",
        "team_daily": ROLLUP_FULL + ", fsync_after_insert = 1, fsync_part_directory = 1",
    }
    assert tablesettings.changes(applied, tablesettings.TablePolicy(400, True)) == []
    assert tablesettings.changes(applied, tablesettings.TablePolicy(0, False)) == [
        "ALTER TABLE metric_points REMOVE TTL",
        "ALTER TABLE metric_points RESET SETTING fsync_after_insert, fsync_part_directory",
        "ALTER TABLE team_daily RESET SETTING fsync_after_insert, fsync_part_directory",
    ]
    assert tablesettings.changes({"metric_points": ENGINE_FULL}, tablesettings.TablePolicy(90, True)) == [
        "ALTER TABLE metric_points MODIFY TTL toDateTime(time) + INTERVAL 90 DAY",
        "ALTER TABLE metric_points MODIFY SETTING fsync_after_insert = 1, fsync_part_directory = 1",
    ]


def test_every_data_table_of_one_server_keeps_a_deduplication_window() -> None:
    created = {
        "metric_points": ENGINE_FULL.replace(", non_replicated_deduplication_window = 1000", ""),
        "team_daily": ROLLUP_FULL.replace(
            "non_replicated_deduplication_window = 1000", "non_replicated_deduplication_window = 10"
        ),
        "schema_migrations": "MergeTree ORDER BY version SETTINGS index_granularity = 8192",
    }
    assert tablesettings.changes(created, tablesettings.TablePolicy(0, False)) == [
        "ALTER TABLE metric_points MODIFY SETTING non_replicated_deduplication_window = 1000",
        "ALTER TABLE team_daily MODIFY SETTING non_replicated_deduplication_window = 1000",
    ]
    # Replicated tables keep their own window (replicated_deduplication_window): nothing to alter on a cluster.
    assert (
        tablesettings.changes(
            {"team_daily_local": ROLLUP_FULL.split(" SETTINGS")[0]}, tablesettings.TablePolicy(0, False, CLUSTER)
        )
        == []
    )


def test_the_raw_tables_and_only_they_merge_column_by_column_from_the_first_row() -> None:
    created = {
        "metric_points": ENGINE_FULL.replace(", vertical_merge_algorithm_min_rows_to_activate = 1", ""),
        "events": ENGINE_FULL.replace("metric,", "event_name,").replace(
            "vertical_merge_algorithm_min_rows_to_activate = 1", "vertical_merge_algorithm_min_rows_to_activate = 5000"
        ),
        "team_daily": ROLLUP_FULL,
    }
    policy = tablesettings.TablePolicy(0, False)
    merge_rows = {t: tablesettings.setting_value(e, tablesettings.VERTICAL_MERGE_SETTING) for t, e in created.items()}
    assert merge_rows == {"metric_points": None, "events": 5000, "team_daily": None}
    assert tablesettings.changes(created, policy) == [
        "ALTER TABLE events MODIFY SETTING vertical_merge_algorithm_min_rows_to_activate = 1",
        "ALTER TABLE metric_points MODIFY SETTING vertical_merge_algorithm_min_rows_to_activate = 1",
    ]
    assert tablesettings.changes({"metric_points": ENGINE_FULL, "team_daily": ROLLUP_FULL}, policy) == []
    # On a cluster too (a MergeTree setting of the replicated local tables).
    assert tablesettings.changes(
        {"events_local": ENGINE_FULL.split(" SETTINGS")[0], "team_daily_local": ROLLUP_FULL.split(" SETTINGS")[0]},
        tablesettings.TablePolicy(0, False, CLUSTER),
    ) == [
        f"ALTER TABLE events_local ON CLUSTER `{CLUSTER}` MODIFY SETTING vertical_merge_algorithm_min_rows_to_activate = 1"
    ]


def test_on_a_cluster_the_local_tables_are_altered_on_the_cluster() -> None:
    names = tablesettings.local_names(["metric_points", "team_daily"], CLUSTER)
    assert names == {"metric_points_local": "metric_points", "team_daily_local": "team_daily"}
    policy = tablesettings.TablePolicy(400, True, CLUSTER)
    assert tablesettings.changes({"metric_points_local": ENGINE_FULL, "team_daily_local": ROLLUP_FULL}, policy) == [
        f"ALTER TABLE metric_points_local ON CLUSTER `{CLUSTER}` MODIFY TTL toDateTime(time) + INTERVAL 400 DAY",
        f"ALTER TABLE metric_points_local ON CLUSTER `{CLUSTER}` MODIFY SETTING fsync_after_insert = 1, fsync_part_directory = 1",
        f"ALTER TABLE team_daily_local ON CLUSTER `{CLUSTER}` MODIFY SETTING fsync_after_insert = 1, fsync_part_directory = 1",
    ]


def test_the_embedded_engine_and_only_it_writes_small_parts_packed() -> None:
    packed = f"min_bytes_for_full_part_storage = {tablesettings.PACKED_PART_BYTES}"
    compact = f"min_bytes_for_wide_part = {tablesettings.COMPACT_PART_BYTES}"
    created = {
        "metric_points": ENGINE_FULL + ", " + compact,
        "team_daily": ROLLUP_FULL + ", min_bytes_for_full_part_storage = 1024",
        "schema_migrations": "MergeTree ORDER BY version SETTINGS index_granularity = 8192, "
        "non_replicated_deduplication_window = 1000, " + packed,
    }
    embedded = tablesettings.TablePolicy(0, False, embedded=True)
    assert tablesettings.changes(created, embedded) == [
        f"ALTER TABLE metric_points MODIFY SETTING {packed}",
        f"ALTER TABLE team_daily MODIFY SETTING {packed}",
    ]
    applied = {
        table: engine.replace(", min_bytes_for_full_part_storage = 1024", "") + ", " + packed
        for table, engine in created.items()
        if table != "schema_migrations"
    }
    assert tablesettings.changes(applied, embedded) == []
    # A ClickHouse server keeps its operator's part layout.
    assert tablesettings.changes(created, tablesettings.TablePolicy(0, False)) == []


def test_the_embedded_engines_raw_tables_and_only_they_write_compact_inserts() -> None:
    packed = f"min_bytes_for_full_part_storage = {tablesettings.PACKED_PART_BYTES}"
    compact = f"min_bytes_for_wide_part = {tablesettings.COMPACT_PART_BYTES}"
    created = {
        "metric_points": ENGINE_FULL + ", " + packed,
        "events": ENGINE_FULL.replace("metric,", "event_name,") + ", " + packed + ", min_bytes_for_wide_part = 1024",
        "team_daily": ROLLUP_FULL + ", " + packed,
    }
    embedded = tablesettings.TablePolicy(0, False, embedded=True)
    assert tablesettings.changes(created, embedded) == [
        f"ALTER TABLE events MODIFY SETTING {compact}",
        f"ALTER TABLE metric_points MODIFY SETTING {compact}",
    ]
    applied = {
        "metric_points": created["metric_points"] + ", " + compact,
        "events": created["events"].replace("min_bytes_for_wide_part = 1024", compact),
        "team_daily": created["team_daily"],
    }
    assert tablesettings.changes(applied, embedded) == []
    # A ClickHouse server keeps its operator's part layout, whatever the tables hold.
    assert tablesettings.changes(created, tablesettings.TablePolicy(0, False)) == []
