"""Migration 0008 on a store that already holds facts: the whole-organization daily rollup is backfilled from the
per-team one, and the console's days and totals then equal the facts with and without a team filter (the facts
of test_month_boundaries: members and sessions across months, years and teams). On the real engine (chDB), a
store of its own: one engine path per process at a time."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from console import readmodels
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


def test_the_whole_organization_daily_rollup_is_backfilled_on_upgrade(tmp_path: Path) -> None:
    # A store at 0007 holding every fact; 0008 fills the whole-organization daily rollup from the per-team one.
    upgraded = store_at_migration(f"chdb://{tmp_path / 'chdb'}", 7)
    try:
        for fact in FACTS:
            store_fact(upgraded, fact)
        assert upgraded.migrate() == [m.name for m in load_migrations() if m.version >= 8]
        for first, last in RANGES:
            for team in ("", "red", "blue"):
                assert_analytics_equal_the_facts(upgraded, first, last, team)
        # and the rows written after the upgrade reach it through its view
        store_fact(upgraded, Fact(at(Y, 4, 20, 11, 0), "frank@example.com", "s-f1", "red", "lines", 4))
        april = readmodels.analytics(upgraded, date(Y, 4, 20), date(Y, 4, 20))["totals"]
        assert (april["accepted_lines"], april["active_users"], april["sessions"]) == (7, 2, 2)
    finally:
        upgraded.close()
