"""The ids of each team's days (migration 0010, `team_day_ids`), which the console's analytics with a team filter
count instead of `org_daily`'s uniqExact states: for every organization, team and day they hold exactly the
members and sessions those states hold, and the console's team figures equal the facts across organizations
(the same member and session in two counts once over all of them). On the real engine (chDB)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from console import readmodels
from exporters.clickhouse import ClickHouseConfig, ClickHouseStore, create_store
from pdata import LogEvent, Sender
from tests.integration.test_month_boundaries import FACTS, Y, store_fact
from tests.integration.test_views_semantics import LINES, metric, ns, write

DAY = date(Y, 5, 6)
NORTH = Sender(organization_id="org-north")
SOUTH = Sender(organization_id="org-south")


def _who(member: str, session: str, team: str) -> dict[str, str]:
    return {"user.email": member, "user.id": member, "session.id": session, "team.id": team}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseStore]:
    opened = create_store(ClickHouseConfig(dsn=f"chdb://{tmp_path_factory.mktemp('team-ids') / 'chdb'}"))
    for fact in FACTS:
        store_fact(opened, fact)
    when = ns(DAY)
    # Gina works for both organizations in team "green", in one session; Hal only for the north, in two.
    write(opened, metric(LINES, 4, when, _who("gina@example.com", "s-g1", "green"), type="added"), sender=NORTH)
    write(opened, metric(LINES, 6, when + 1, _who("gina@example.com", "s-g1", "green"), type="added"), sender=SOUTH)
    write(opened, metric(LINES, 1, when + 2, _who("hal@example.com", "s-h1", "green"), type="added"), sender=NORTH)
    prompt = LogEvent(when + 3, "user_prompt", "claude_code.user_prompt", _who("hal@example.com", "s-h2", "green"), {})
    write(opened, events=(prompt,), sender=NORTH)
    yield opened
    opened.close()


def test_each_teams_ids_of_a_day_are_the_ids_of_the_per_team_rollups_states(store: ClickHouseStore) -> None:
    states = store.select(
        "SELECT organization_id, team, day, uniqExactMerge(members), uniqExactMerge(sessions) FROM org_daily "
        "GROUP BY organization_id, team, day ORDER BY organization_id, team, day"
    )
    ids = store.select(
        "SELECT organization_id, team, day, uniqExactIf(id_key, kind = 'member'), uniqExactIf(id_key, kind = 'session') "
        "FROM team_day_ids GROUP BY organization_id, team, day ORDER BY organization_id, team, day"
    )
    assert len(states) == len(FACTS) + 2  # a team and day per fact, and green's day in each organization
    assert ids == states


@pytest.mark.parametrize(
    ("organization_id", "figures"),
    [
        ("", (11, 2, 3)),  # Gina once over both organizations, her session once
        ("org-north", (5, 2, 3)),
        ("org-south", (6, 1, 1)),
    ],
)
def test_a_team_counts_a_member_and_session_of_two_organizations_once(
    store: ClickHouseStore, organization_id: str, figures: tuple[int, int, int]
) -> None:
    totals = readmodels.analytics(store, DAY, DAY, organization_id, "green")["totals"]
    assert (totals["accepted_lines"], totals["active_users"], totals["sessions"]) == figures


def test_a_teams_year_counts_each_day_and_the_range_from_its_ids(store: ClickHouseStore) -> None:
    # red over the calendar year: alice (s-a1, s-a2, s-a3, s-a9), carol (s-c1 on Jan 31, s-c2), erin (s-e2)
    report = readmodels.analytics(store, date(Y, 1, 1), date(Y, 12, 31), team="red")
    assert (report["totals"]["active_users"], report["totals"]["sessions"]) == (3, 7)
    busy = {day["date"]: (day["active_users"], day["sessions"]) for day in report["days"] if day["active_users"]}
    assert busy == {
        date(Y, 1, 1).isoformat(): (1, 1),
        date(Y, 1, 31).isoformat(): (1, 1),
        date(Y, 2, 14).isoformat(): (1, 1),
        date(Y, 3, 10).isoformat(): (1, 1),
        date(Y, 3, 11).isoformat(): (1, 1),
        date(Y, 4, 20).isoformat(): (1, 1),
        date(Y, 12, 20).isoformat(): (1, 1),
    }
    # a range of one idle day of the team: no rows, zeros
    idle = readmodels.analytics(store, DAY + timedelta(days=1), DAY + timedelta(days=1), team="red")
    assert (idle["totals"]["active_users"], idle["totals"]["sessions"]) == (0, 0)
