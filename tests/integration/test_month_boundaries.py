"""Ranges cut across calendar months and years: the views read whole months from the monthly rollups and the days
around them from the daily ones, and must give the same figures as the facts themselves. Facts sit on the last
and first minutes of months and years, sessions and members cross month boundaries and teams; every figure is
computed here from the facts and checked against the raw tables too. On the real engine (chDB)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from console import readmodels
from exporters.clickhouse import ClickHouseConfig, ClickHouseStore, create_store
from pdata import LogEvent
from tests.dashboards import common
from tests.dashboards.grafana import ALL, TimeRange, Variables, clickhouse_sql
from tests.integration.test_views_semantics import DECISION, LINES, metric, write

COST = "claude_code.cost.usage"
SESSION_COUNT = "claude_code.session.count"


@dataclass(frozen=True)
class Fact:
    at: datetime
    member: str
    session: str
    team: str
    kind: str  # lines, cost, accept, reject, session_starts (no session id), prompt (an event)
    value: float = 0.0
    tool: str = ""

    @property
    def day(self) -> date:
        return self.at.date()


def at(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# This year's facts, New Year's Eve before it and New Year's Day after it: all within the raw tables' default
# retention (400 days), which the raw-table truth reads.
Y = date.today().year
FACTS = [
    Fact(at(Y - 1, 12, 31, 23, 59), "alice@example.com", "s-a1", "red", "lines", 3),
    Fact(at(Y, 1, 1, 0, 0), "alice@example.com", "s-a1", "red", "lines", 5),  # the same session, a new year
    Fact(at(Y, 1, 14, 23, 59), "bob@example.com", "s-b1", "blue", "cost", 0.25),
    Fact(at(Y, 1, 15, 0, 0), "bob@example.com", "s-b1", "blue", "cost", 0.5),
    Fact(at(Y, 1, 31, 23, 59) + timedelta(milliseconds=250), "carol@example.com", "s-c1", "red", "accept", 2, "Edit"),
    Fact(at(Y, 2, 1, 0, 0), "carol@example.com", "s-c1", "blue", "reject", 1, "Edit"),  # next month, other team
    Fact(at(Y, 2, 14, 12, 0), "alice@example.com", "s-a2", "red", "accept", 4, "Write"),
    Fact(at(Y, 2, 20, 9, 0), "erin@example.com", "s-e1", "blue", "prompt"),  # an event alone
    Fact(at(Y, 2, 28, 23, 0), "bob@example.com", "s-b2", "blue", "lines", 7),
    Fact(at(Y, 3, 1, 0, 0), "bob@example.com", "s-b2", "blue", "lines", 11),
    Fact(at(Y, 3, 10, 23, 59), "carol@example.com", "s-c2", "red", "cost", 1.25),
    Fact(at(Y, 3, 11, 0, 0), "alice@example.com", "s-a3", "red", "lines", 13),
    # one member and session in two teams the same day: one member, one session that day, in each team's view too
    Fact(at(Y, 4, 20, 9, 0), "erin@example.com", "s-e2", "red", "lines", 2),
    Fact(at(Y, 4, 20, 10, 0), "erin@example.com", "s-e2", "blue", "lines", 1),
    Fact(at(Y, 6, 15, 9, 0), "dave@example.com", "", "blue", "session_starts", 2),  # session ids off
    Fact(at(Y, 12, 20, 12, 0), "alice@example.com", "s-a9", "red", "cost", 2),
    Fact(at(Y, 12, 31, 23, 59), "bob@example.com", "s-b9", "blue", "reject", 3, "Write"),
    Fact(at(Y + 1, 1, 1, 0, 0), "bob@example.com", "s-b9", "blue", "cost", 8),
]

# (first day, last day), both included
MID_MONTH_TO_MID_MONTH = (date(Y, 1, 15), date(Y, 3, 10))
CALENDAR_YEAR = (date(Y, 1, 1), date(Y, 12, 31))
A_YEAR_ACROSS_NEW_YEARS = (date(Y - 1, 12, 31), date(Y, 12, 30))
RANGES = [MID_MONTH_TO_MID_MONTH, CALENDAR_YEAR, A_YEAR_ACROSS_NEW_YEARS, (date(Y, 2, 1), date(Y, 2, 28))]


def _ns(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1000


def store_fact(store: ClickHouseStore, fact: Fact) -> None:
    who = {"user.email": fact.member, "user.id": fact.member, "team.id": fact.team}
    if fact.session:
        who["session.id"] = fact.session
    when = _ns(fact.at)
    if fact.kind == "prompt":
        write(
            store, events=(LogEvent(when, "user_prompt", "claude_code.user_prompt", {**who, "prompt_length": "3"}, {}),)
        )
        return
    point = {
        "lines": lambda: metric(LINES, fact.value, when, who, type="added"),
        "cost": lambda: metric(COST, fact.value, when, who, model="m"),
        "accept": lambda: metric(DECISION, fact.value, when, who, tool_name=fact.tool, decision="accept"),
        "reject": lambda: metric(DECISION, fact.value, when, who, tool_name=fact.tool, decision="reject"),
        "session_starts": lambda: metric(SESSION_COUNT, fact.value, when, who, start_type="fresh"),
    }[fact.kind]()
    write(store, point)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseStore]:
    opened = create_store(ClickHouseConfig(dsn=f"chdb://{tmp_path_factory.mktemp('months') / 'chdb'}"))
    for fact in FACTS:
        store_fact(opened, fact)
    yield opened
    opened.close()


def _figures(facts: list[Fact]) -> dict[str, Any]:
    """The console's figures of these facts, computed from them."""
    accepts = sum(f.value for f in facts if f.kind == "accept")
    rejects = sum(f.value for f in facts if f.kind == "reject")
    lines = sum(f.value for f in facts if f.kind == "lines")
    return {
        "accepted_lines": int(lines),  # whole lines in these facts
        "removed_lines": 0,
        "accepts": int(accepts),
        "rejects": int(rejects),
        "acceptance_rate": accepts / (accepts + rejects) if accepts + rejects else None,
        "active_users": len({f.member for f in facts}),
        "sessions": len({f.session for f in facts if f.session})
        + int(sum(f.value for f in facts if f.kind == "session_starts")),
        "spend_usd": sum(f.value for f in facts if f.kind == "cost"),
    }


def _within(first: date, last: date, team: str = "") -> list[Fact]:
    return [f for f in FACTS if first <= f.day <= last and team in ("", f.team)]


def _by_tool(facts: list[Fact]) -> dict[str, dict[str, Any]]:
    tools: dict[str, dict[str, Any]] = {}
    for fact in facts:
        if fact.kind in ("accept", "reject"):
            counts = tools.setdefault(fact.tool, {"accepts": 0, "rejects": 0})
            counts["accepts" if fact.kind == "accept" else "rejects"] += int(fact.value)
    for counts in tools.values():
        counts["acceptance_rate"] = counts["accepts"] / (counts["accepts"] + counts["rejects"])
    return tools


def _raw_totals(store: ClickHouseStore, first: date, last: date) -> tuple[float, float, float, int, int]:
    """Lines, accepts, spend, distinct members and distinct sessions straight from the raw tables."""
    lower, upper = readmodels.day_bounds(first, last)
    window = {"start": lower, "end": upper}
    where = "time >= {start:DateTime('UTC')} AND time < {end:DateTime('UTC')}"
    sums = store.select(
        f"SELECT sumIf(value, fact = 'lines_added'), sumIf(value, fact = 'edit_accept'), sumIf(value, fact = 'cost_usd'),"
        f" sumIf(value, fact = 'session_start' AND session_id = '') FROM metric_points WHERE {where}",
        window,
    )[0]
    distinct = store.select(
        f"SELECT uniqExact(member_type, member), uniqExactIf(session_id, session_id != '') FROM ("
        f" SELECT member_type, member, session_id FROM metric_points WHERE {where}"
        f" UNION ALL SELECT member_type, member, session_id FROM events WHERE {where})",
        window,
    )[0]
    return float(sums[0]), float(sums[1]), float(sums[2]), int(distinct[0]), int(distinct[1]) + int(sums[3])


def assert_analytics_equal_the_facts(store: ClickHouseStore, first: date, last: date, team: str) -> dict[str, Any]:
    """The console's analytics of the range, its totals and every day checked against the facts."""
    report = readmodels.analytics(store, first, last, team=team)
    assert report["totals"] == pytest.approx(_figures(_within(first, last, team))), (first, last, team)
    for day in report["days"]:
        when = date.fromisoformat(day["date"])
        figures = {k: v for k, v in day.items() if k != "date"}
        assert figures == pytest.approx(_figures(_within(when, when, team))), (when, team)
    return report


@pytest.mark.parametrize("days", RANGES, ids=lambda days: f"{days[0]}..{days[1]}")
def test_totals_days_and_tools_equal_the_facts_and_the_raw_tables(store: ClickHouseStore, days: tuple) -> None:
    first, last = days
    report = assert_analytics_equal_the_facts(store, first, last, "")
    assert report["acceptance_by_tool"] == _by_tool(_within(first, last))
    totals = report["totals"]
    assert (totals["accepted_lines"], totals["accepts"], totals["spend_usd"], totals["active_users"],
            totals["sessions"]) == pytest.approx(_raw_totals(store, first, last))  # fmt: skip


def test_exact_figures_of_a_range_from_mid_month_to_mid_month(store: ClickHouseStore) -> None:
    totals = readmodels.analytics(store, *MID_MONTH_TO_MID_MONTH)["totals"]
    # Bob's 0.5 + Carol's 1.25 (Bob's 0.25 of Jan 14 and Alice's 13 lines of Mar 11 are outside); 7 + 11 lines;
    # Carol (two teams) is one member, her session s-c1 (two months) one session: bob, carol, alice, erin;
    # s-b1, s-c1, s-a2, s-e1, s-b2, s-c2.
    assert (totals["spend_usd"], totals["accepted_lines"], totals["accepts"], totals["rejects"]) == (1.75, 18, 6, 1)
    assert (totals["active_users"], totals["sessions"]) == (4, 6)


def test_exact_figures_of_a_year_across_new_years_day(store: ClickHouseStore) -> None:
    totals = readmodels.analytics(store, *A_YEAR_ACROSS_NEW_YEARS)["totals"]
    # Everything but Bob's reject of Dec 31 and his 8 USD of the next New Year's Day: five members; s-a1 (two years) once,
    # s-e2 (two teams) once, plus Dave's two starts without a session id.
    assert (totals["accepted_lines"], totals["spend_usd"], totals["rejects"]) == (42, 4.0, 1)
    assert (totals["active_users"], totals["sessions"]) == (5, 10 + 2)


def test_a_team_filter_keeps_a_members_days_in_that_team(store: ClickHouseStore) -> None:
    # With a team filter the days come from the per-team daily rollup, without one from the whole organization's.
    for first, last in RANGES:
        for team in ("red", "blue"):
            assert_analytics_equal_the_facts(store, first, last, team)


def _team_rows(facts: list[Fact]) -> list[tuple[str, float, float, int, datetime]]:
    members = sorted({f.member for f in facts})
    rows = []
    for member in members:
        own = [f for f in facts if f.member == member]
        figures = _figures(own)
        rows.append((member, figures["spend_usd"], figures["accepted_lines"], figures["sessions"],
                     max(f.at for f in own)))  # fmt: skip
    return sorted(rows, key=lambda row: (-row[1], row[0]))


@pytest.mark.parametrize(("year", "month"), [(Y, 1), (Y, 2), (Y, 3), (Y, 12)])
def test_team_view_of_a_calendar_month(store: ClickHouseStore, year: int, month: int) -> None:
    first, last = readmodels.month_bounds(year, month)
    members = readmodels.team(store, year, month)["members"]
    expected = _team_rows(_within(first, last))
    assert [(m["member"], m["spend_usd"], m["accepted_lines"], m["sessions"]) for m in members] == [
        row[:4] for row in expected
    ]
    assert [m["last_active"] for m in members] == [row[4].isoformat().replace("+00:00", "Z") for row in expected]


def _team_insights_panel(store: ClickHouseStore, end: datetime) -> list[tuple]:
    target = next(
        target
        for _, panel, target in common.targets("grafana-clickhouse-datasource")
        if panel["title"] == "Team insights (calendar month of the range's end)"
    )
    variables = Variables({"organization": ALL, "team": ALL, "model": ALL})
    sql = clickhouse_sql(target["rawSql"], variables, TimeRange(end - timedelta(days=7), end))
    return [(row[0], float(row[2]), float(row[3]), int(row[4]), row[5]) for row in store.select(sql)]


@pytest.mark.parametrize(
    "end",
    [
        at(Y, 2, 14, 12, 30),  # later hours of February hold facts: its days and hours are read
        at(Y, 2, 28, 23, 59),  # nothing later in February: the whole month from the monthly rollup
        at(Y, 3, 1, 0, 30),  # the first hour of March
    ],
)
def test_dashboard_team_insights_of_the_month_of_the_ranges_end(store: ClickHouseStore, end: datetime) -> None:
    month_start = datetime(end.year, end.month, 1, tzinfo=UTC)
    # The rollups hold whole hours: the hour holding the range's end counts whole.
    hour_of_end = end.replace(minute=0, second=0)
    facts = [f for f in FACTS if month_start <= f.at and f.at.replace(minute=0) <= hour_of_end]
    rows = _team_insights_panel(store, end)
    assert [(member, spend, lines, sessions) for member, spend, lines, sessions, _ in rows] == [
        row[:4] for row in _team_rows(facts)
    ]
    assert [last.replace(tzinfo=UTC) if last.tzinfo is None else last for *_, last in rows] == [
        row[4] for row in _team_rows(facts)
    ]


def test_the_monthly_rollups_keep_their_history_past_the_raw_retention(store: ClickHouseStore) -> None:
    assert "TTL toDateTime(time) + toIntervalDay(400)" in store.select("SHOW CREATE TABLE metric_points")[0][0]
    for rollup in ("org_monthly", "member_monthly", "tool_decisions_monthly"):
        assert "TTL" not in store.select(f"SHOW CREATE TABLE {rollup}")[0][0], rollup


@pytest.mark.parametrize("team", ["", "red", "blue"])
def test_a_member_and_session_in_two_teams_the_same_day_count_once(store: ClickHouseStore, team: str) -> None:
    april = readmodels.analytics(store, date(Y, 4, 20), date(Y, 4, 20), team=team)["totals"]
    assert (april["accepted_lines"], april["active_users"], april["sessions"]) == (
        {"": 3, "red": 2, "blue": 1}[team],
        1,
        1,
    )
