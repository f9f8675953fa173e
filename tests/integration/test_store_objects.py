"""What the store shows and runs for tools (benchmarks, operators' checks) without lending its client: its tables
and views with their engines, a statement and a read of the caller's own. On the real engine (chDB)."""

from __future__ import annotations

import pytest

from exporters.clickhouse import ClickHouseStore, QueryFailed


def test_the_store_lists_its_tables_and_views_with_their_engines(store: ClickHouseStore) -> None:
    assert [(table.name, table.engine) for table in store.tables()] == [
        ("api_latency_5m", "AggregatingMergeTree"),
        ("api_latency_5m_from_events", "MaterializedView"),
        ("day_rows", "AggregatingMergeTree"),
        ("day_rows_from_member_daily", "MaterializedView"),
        ("day_rows_from_session_days", "MaterializedView"),
        ("day_summaries", "ReplacingMergeTree"),
        ("day_summary_ids", "ReplacingMergeTree"),
        ("event_calls_5m", "AggregatingMergeTree"),
        ("event_calls_5m_from_events", "MaterializedView"),
        ("events", "MergeTree"),
        ("member_daily", "AggregatingMergeTree"),
        ("member_daily_from_events", "MaterializedView"),
        ("member_daily_from_points", "MaterializedView"),
        ("member_hourly", "AggregatingMergeTree"),
        ("member_hourly_from_events", "MaterializedView"),
        ("member_hourly_from_points", "MaterializedView"),
        ("member_monthly", "AggregatingMergeTree"),
        ("member_monthly_from_daily", "MaterializedView"),
        ("metric_points", "MergeTree"),
        ("model_team_hourly", "AggregatingMergeTree"),
        ("model_team_hourly_from_events", "MaterializedView"),
        ("model_team_hourly_from_points", "MaterializedView"),
        ("model_usage_hourly", "AggregatingMergeTree"),
        ("model_usage_hourly_from_points", "MaterializedView"),
        ("org_daily_all_teams", "AggregatingMergeTree"),
        ("org_daily_all_teams_from_daily", "MaterializedView"),
        ("org_monthly", "AggregatingMergeTree"),
        ("org_monthly_from_daily", "MaterializedView"),
        ("schema_migrations", "MergeTree"),
        ("schema_migrations_lock", "MergeTree"),
        ("session_days", "AggregatingMergeTree"),
        ("session_days_from_hourly", "MaterializedView"),
        ("session_hourly", "AggregatingMergeTree"),
        ("session_hourly_from_events", "MaterializedView"),
        ("session_hourly_from_points", "MaterializedView"),
        ("team_daily", "AggregatingMergeTree"),
        ("team_daily_from_events", "MaterializedView"),
        ("team_daily_from_points", "MaterializedView"),
        ("tool_decisions_daily", "AggregatingMergeTree"),
        ("tool_decisions_daily_from_points", "MaterializedView"),
        ("tool_decisions_hourly", "AggregatingMergeTree"),
        ("tool_decisions_hourly_from_points", "MaterializedView"),
        ("tool_decisions_monthly", "AggregatingMergeTree"),
        ("tool_decisions_monthly_from_daily", "MaterializedView"),
        ("tool_decisions_team_hourly", "AggregatingMergeTree"),
        ("tool_decisions_team_hourly_from_hourly", "MaterializedView"),
    ]


def test_a_statement_and_a_read_of_the_callers_own(store: ClickHouseStore) -> None:
    store.execute("CREATE TABLE scratch (n UInt8) ENGINE = MergeTree ORDER BY n")
    store.execute("INSERT INTO scratch SELECT number FROM numbers(5)", settings={"max_insert_threads": 2})
    assert store.select("SELECT sum(n), count() FROM scratch WHERE n >= {low:UInt8}", {"low": 2}) == [(9, 3)]
    assert ("scratch", "MergeTree") in [(table.name, table.engine) for table in store.tables()]


def test_a_refused_statement_or_read_is_a_query_failure_not_an_outage(store: ClickHouseStore) -> None:
    with pytest.raises(QueryFailed, match="select failed: .*no_such_table"):
        store.select("SELECT * FROM no_such_table")
    with pytest.raises(QueryFailed, match="statement failed: .*no_such_table"):
        store.execute("OPTIMIZE TABLE no_such_table FINAL")
