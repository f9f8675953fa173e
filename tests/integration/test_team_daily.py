"""Migrations 0010 and 0011 on a store that already holds facts: the per-team days move from org_daily to
team_daily (sorted by organization, team and day, in granules of 64 rows), the monthly and whole-organization
rollups are built again from it, org_daily is dropped, and the console's days and totals still equal the facts
with and without a team filter (the facts of test_month_boundaries: members and sessions across months, years and
teams). 0010 run again, as after a crash before it was recorded, counts nothing twice. On the real engine (chDB),
a store of its own: one engine path per process at a time."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from console import readmodels
from exporters.clickhouse import ClickHouseStore
from exporters.clickhouse.migrations import load_migrations
from tests.integration.test_month_boundaries import (
    FACTS,
    RANGES,
    Fact,
    Y,
    assert_analytics_equal_the_facts,
    at,
    store_fact,
)
from tests.support.schema import store_at_migration


def _tables(store: ClickHouseStore) -> dict[str, tuple[str, str]]:
    rows = store.select(
        "SELECT name, sorting_key, engine_full FROM system.tables WHERE database = currentDatabase() "
        "AND name IN ('org_daily', 'team_daily')"
    )
    return {name: (sorting_key, engine_full) for name, sorting_key, engine_full in rows}


def _april_20_and_april(store: ClickHouseStore) -> dict[str, tuple[float, int, int]]:
    def figures(first: date, last: date, team: str = "") -> tuple[float, int, int]:
        totals = readmodels.analytics(store, first, last, team=team)["totals"]
        return totals["accepted_lines"], totals["active_users"], totals["sessions"]

    ((lines, members, sessions),) = store.select(
        "SELECT sum(accepted_lines), uniqExactMerge(members), uniqExactMerge(sessions) FROM org_monthly "
        "WHERE month = {month:Date}",
        {"month": date(Y, 4, 1)},
    )
    return {
        "red, April 20th": figures(date(Y, 4, 20), date(Y, 4, 20), "red"),
        "organization, April 20th": figures(date(Y, 4, 20), date(Y, 4, 20)),
        "organization, April": figures(date(Y, 4, 1), date(Y, 4, 30)),
        "monthly rollup, April": (lines, members, sessions),
    }


def _assert_every_range_and_team_equals_the_facts(store: ClickHouseStore) -> None:
    for first, last in RANGES:
        for team in ("", "red", "blue"):
            assert_analytics_equal_the_facts(store, first, last, team)


def test_on_upgrade_the_per_team_days_move_to_team_daily_and_every_figure_stays(tmp_path: Path) -> None:
    upgraded = store_at_migration(f"chdb://{tmp_path / 'chdb'}", 9)
    try:
        for fact in FACTS:
            store_fact(upgraded, fact)
        assert upgraded.migrate() == [m.name for m in load_migrations() if m.version >= 10]
        tables = _tables(upgraded)
        assert list(tables) == ["team_daily"]
        sorting_key, engine_full = tables["team_daily"]
        assert sorting_key == "organization_id, team, day"
        assert "index_granularity = 64," in engine_full
        _assert_every_range_and_team_equals_the_facts(upgraded)
        # Rows written after the upgrade reach team_daily and the rollups read from it through the new views: a
        # new member's 4 lines in a new session, on April 20th of team red, of the whole organization and of April.
        before = _april_20_and_april(upgraded)
        store_fact(upgraded, Fact(at(Y, 4, 20, 11, 0), "frank@example.com", "s-f1", "red", "lines", 4))
        after = _april_20_and_april(upgraded)
        assert {view: tuple(a - b for a, b in zip(after[view], before[view], strict=True)) for view in after} == {
            "red, April 20th": (4, 1, 1),
            "organization, April 20th": (4, 1, 1),
            "organization, April": (4, 1, 1),
            "monthly rollup, April": (4, 1, 1),
        }
    finally:
        upgraded.close()


def test_0010_run_again_after_a_crash_before_its_record_counts_each_row_once(tmp_path: Path) -> None:
    dsn = f"chdb://{tmp_path / 'chdb'}"
    upgraded = store_at_migration(dsn, 9)
    try:
        for fact in FACTS:
            store_fact(upgraded, fact)
        # Every statement of 0010 ran, then the collector died before recording it: the next start runs it again.
        team_daily = next(m for m in load_migrations() if m.version == 10)
        for statement in team_daily.statements:
            upgraded.execute(statement)
        assert upgraded.migrate() == [m.name for m in load_migrations() if m.version >= 10]
        _assert_every_range_and_team_equals_the_facts(upgraded)
    finally:
        upgraded.close()
