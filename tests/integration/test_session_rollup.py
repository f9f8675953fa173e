"""The dashboards' per-session tables read the per-session rollup (session_hourly, migration 0006) and the
per-member panels draw the top members: both must give the figures of the facts themselves, the session tables
the same rows as the raw tables over the same whole hours, also on a store whose rollup was backfilled by the
migration from the rows it already held. On the real engine (chDB), with the committed dashboards' SQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from exporters.clickhouse import ClickHouseConfig, ClickHouseStore, create_store
from exporters.clickhouse.migrations import load_migrations
from pdata import LogEvent
from tests.dashboards import common
from tests.dashboards.grafana import ALL, TimeRange, Variables, clickhouse_sql, duration_seconds
from tests.integration.test_views_semantics import LINES, metric, write
from tests.support.schema import store_at_migration

COST = "claude_code.cost.usage"
TOKENS = "claude_code.token.usage"
EVERYTHING = Variables({"organization": ALL, "team": ALL, "model": ALL})
RED = Variables({"organization": ALL, "team": ["red"], "model": ALL})


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def _ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000


def _who(member: str, team: str, session: str = "") -> dict[str, str]:
    who = {"user.email": member, "user.id": member, "team.id": team}
    return {**who, "session.id": session} if session else who


ALICE = _who("alice@example.com", "red", "s-a1")
BOB_1 = _who("bob@example.com", "blue", "s-b1")
BOB_2 = _who("bob@example.com", "blue", "s-b2")
CAROL = _who("carol@example.com", "red", "s-c1")
DAVE = _who("dave@example.com", "blue")  # session ids switched off: in no session table


def _event(name: str, moment: datetime, who: dict[str, str]) -> LogEvent:
    return LogEvent(_ns(moment), name, f"claude_code.{name}", dict(who), {})


def write_sessions(store: ClickHouseStore) -> None:
    """Alice's session crosses hours and midnight, Bob has two sessions, Carol's has only prompts."""
    tokens = [("input", 1000), ("output", 200), ("cacheRead", 300), ("cacheCreation", 50)]
    write(
        store,
        metric(COST, 0.5, _ns(at(10, 10, 5)), ALICE, model="claude-opus-4-6"),
        *(metric(TOKENS, n, _ns(at(10, 10, 10)), ALICE, type=kind, model="claude-opus-4-6") for kind, n in tokens),
        metric(LINES, 7, _ns(at(10, 11, 20)), ALICE, type="added"),
        metric(LINES, 3, _ns(at(10, 11, 20)), ALICE, type="removed"),
        metric(COST, 0.25, _ns(at(11, 0, 15)), ALICE, model="claude-opus-4-6"),
        metric(LINES, 12, _ns(at(10, 10, 30)), BOB_1, type="added"),
        metric(COST, 0.125, _ns(at(10, 10, 30)), BOB_1, model="claude-sonnet-4-5"),
        metric(COST, 2.0, _ns(at(10, 14)), BOB_2, model="claude-sonnet-4-5"),
        metric(COST, 1.0, _ns(at(10, 12)), DAVE, model="claude-sonnet-4-5"),
        events=(
            _event("user_prompt", at(10, 10), ALICE),
            _event("user_prompt", at(10, 11, 30), ALICE),
            _event("api_request", at(10, 10, 31), BOB_1),
            _event("user_prompt", at(10, 9), CAROL),
            _event("user_prompt", at(10, 9, 1), CAROL),
        ),
    )


# Session, member, cost, tokens, accepted lines, prompts, first seen, last seen over March 10 and 11.
S_A1 = ("s-a1", "alice@example.com", 0.75, 1550.0, 7.0, 2, at(10, 10), at(11, 0, 15))
S_B1 = ("s-b1", "bob@example.com", 0.125, 0.0, 12.0, 0, at(10, 10, 30), at(10, 10, 31))
S_B2 = ("s-b2", "bob@example.com", 2.0, 0.0, 0.0, 0, at(10, 14), at(10, 14))
S_C1 = ("s-c1", "carol@example.com", 0.0, 0.0, 0.0, 2, at(10, 9), at(10, 9, 1))
TWO_DAYS = TimeRange(at(10, 0), at(11, 23, 59))

# The session tables' SQL before the rollup: every raw point and event of the range grouped by session. Over the
# panel's whole hours it is the truth the rollup must equal.
RAW_SESSIONS = """
SELECT session_id, any(member), sum(cost), sum(tokens), sum(lines), sum(prompts), min(seen), max(seen)
FROM (
    SELECT session_id, member, time AS seen, if(fact = 'cost_usd', value, 0) AS cost,
        if(startsWith(fact, 'tokens_'), value, 0) AS tokens, if(fact = 'lines_added', value, 0) AS lines,
        0 AS prompts
    FROM metric_points WHERE time >= {start:DateTime('UTC')} AND time < {end:DateTime('UTC')} AND session_id != ''
    UNION ALL
    SELECT session_id, member, time, 0, 0, 0, event_name = 'user_prompt'
    FROM events WHERE time >= {start:DateTime('UTC')} AND time < {end:DateTime('UTC')} AND session_id != ''
)
GROUP BY session_id
ORDER BY sum(cost) DESC, session_id
"""


def _panel(title: str) -> dict[str, Any]:
    return next(panel for _, panel, _ in common.targets("grafana-clickhouse-datasource") if panel["title"] == title)


def _rows(store: ClickHouseStore, title: str, window: TimeRange, variables: Variables = EVERYTHING) -> list[tuple]:
    panel = _panel(title)
    interval = duration_seconds(panel["interval"]) if "interval" in panel else 60.0
    sql = clickhouse_sql(panel["targets"][0]["rawSql"], variables, TimeRange(window.start, window.end, interval))
    return [tuple(_utc(value) for value in row) for row in store.select(sql)]


def _utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def _raw_sessions(store: ClickHouseStore, window: TimeRange) -> list[tuple]:
    """RAW_SESSIONS over the whole hours the rollup panels read: from the start of the range's first hour to
    the end of the hour holding its end."""
    start = window.start.replace(minute=0, second=0, microsecond=0)
    end = window.end.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    rows = store.select(RAW_SESSIONS, {"start": start.replace(tzinfo=None), "end": end.replace(tzinfo=None)})
    return [tuple(_utc(value) for value in row) for row in rows]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ClickHouseStore]:
    # chDB allows one data path per process at a time: each test opens and closes its own.
    opened = create_store(ClickHouseConfig(dsn=f"chdb://{tmp_path / 'chdb'}"))
    write_sessions(opened)
    yield opened
    opened.close()


def test_priciest_sessions_are_the_facts_and_the_raw_tables(store: ClickHouseStore) -> None:
    rows = _rows(store, "Priciest sessions", TWO_DAYS)
    assert rows == [S_B2, S_A1, S_B1, S_C1]
    assert rows == _raw_sessions(store, TWO_DAYS)


def test_top_sessions_by_accepted_lines_then_cost(store: ClickHouseStore) -> None:
    assert _rows(store, "Top sessions by accepted lines", TWO_DAYS) == [S_B1, S_A1, S_B2, S_C1]


def test_a_team_keeps_its_sessions(store: ClickHouseStore) -> None:
    assert _rows(store, "Priciest sessions", TWO_DAYS, RED) == [S_A1, S_C1]


def test_a_range_from_mid_hour_keeps_that_hour_and_ends_with_the_hour_of_its_end(store: ClickHouseStore) -> None:
    # 10:20 to 11:25 on March 10: the hours 10:00 and 11:00 whole, as every rollup panel reads them.
    window = TimeRange(at(10, 10, 20), at(10, 11, 25))
    alice = ("s-a1", "alice@example.com", 0.5, 1550.0, 7.0, 2, at(10, 10), at(10, 11, 30))
    assert _rows(store, "Priciest sessions", window) == [alice, S_B1]
    assert _rows(store, "Priciest sessions", window) == _raw_sessions(store, window)


def test_the_migration_backfills_what_the_store_held_and_ingest_then_adds_once(tmp_path: Path) -> None:
    """A store at migration 0005 holding the sessions is upgraded: 0006 fills the rollup from its raw rows, and
    what is written afterwards is counted once, by the materialized views."""
    dsn = f"chdb://{tmp_path / 'chdb'}"
    upgraded = store_at_migration(dsn, 5)
    try:
        write_sessions(upgraded)
        assert upgraded.migrate() == [m.name for m in load_migrations() if m.version >= 6]  # 0006 and later ones
        assert _rows(upgraded, "Priciest sessions", TWO_DAYS) == [S_B2, S_A1, S_B1, S_C1]
        write(upgraded, metric(COST, 1.5, _ns(at(11, 9)), ALICE, model="claude-opus-4-6"))
        alice = (*S_A1[:2], 2.25, *S_A1[3:7], at(11, 9))
        assert _rows(upgraded, "Priciest sessions", TWO_DAYS) == [alice, S_B2, S_B1, S_C1]
        assert _rows(upgraded, "Priciest sessions", TWO_DAYS) == _raw_sessions(upgraded, TWO_DAYS)
    finally:
        upgraded.close()


# --- per member: the top members ---------------------------------------------------------------------------------

MEMBERS = 12  # two more than the panels draw
LINES_OF = {index: float(100 - 10 * index if index < 9 else 10) for index in range(MEMBERS)}


def _member(index: int) -> dict[str, str]:
    return _who(f"m{index:02d}@example.com", "red", f"s-m{index:02d}")


@pytest.fixture
def members_store(tmp_path: Path) -> Iterator[ClickHouseStore]:
    """Member i spends i USD at 10:15, and member 0 also 30 USD at 13:15: the largest spender over the range,
    though the smallest at 10:00. Members 0 to 8 add 100, 90, …, 20 lines at 10:15, members 9 to 11 10 each."""
    opened = create_store(ClickHouseConfig(dsn=f"chdb://{tmp_path / 'chdb'}"))
    points = []
    for index in range(MEMBERS):
        who = _member(index)
        points.append(metric(COST, float(index), _ns(at(10, 10, 15)), who, model="claude-sonnet-4-5"))
        points.append(metric(LINES, LINES_OF[index], _ns(at(10, 10, 15)), who, type="added"))
    points.append(metric(COST, 30.0, _ns(at(10, 13, 15)), _member(0), model="claude-sonnet-4-5"))
    write(opened, *points)
    yield opened
    opened.close()


def test_spend_per_member_draws_the_ten_largest_spenders_of_the_range(members_store: ClickHouseStore) -> None:
    rows = _rows(members_store, "Spend per member", TWO_DAYS)
    # Members 0 (30 + 0 USD) and 3 to 11 (3 to 11 USD); 1 and 2 spent least.
    ten_am = [(at(10, 10), f"m{index:02d}@example.com", float(index)) for index in (0, *range(3, 12))]
    assert sorted(rows) == sorted([*ten_am, (at(10, 13), "m00@example.com", 30.0)])


def test_accepted_lines_per_member_draws_the_ten_with_most_lines_ties_by_name(members_store: ClickHouseStore) -> None:
    rows = _rows(members_store, "Accepted lines per member", TWO_DAYS)
    # m00 to m08 have the 9 largest figures; m09, m10 and m11 tie for the tenth place: the first by name is drawn.
    # An active hour without lines is a bar of 0 (m00's spend at 13:00).
    expected = [(at(10, 10), f"m{index:02d}@example.com", LINES_OF[index]) for index in range(10)]
    assert sorted(rows) == sorted([*expected, (at(10, 13), "m00@example.com", 0.0)])
