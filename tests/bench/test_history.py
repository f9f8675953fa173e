"""The bench's generated history (bench/history.py) holds what its rollups say: the read API over it gives the
figures of a scan of its raw rows, each copied 28-day block has sessions of its own, as a real year does, and
its last days hold real density."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bench import history, views
from console import readmodels
from exporters.clickhouse.summaries import DaySummaries

MEMBERS = 30
DAYS = 3 * history.BLOCK_DAYS  # the base block and two copies
END = date(2026, 11, 30)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    made, _ = history.generate(tmp_path_factory.mktemp("history") / "store", MEMBERS, DAYS, END, progress=False)
    yield made
    made.close()


def _raw(store, sql: str, first: date, last: date) -> list[tuple]:
    lower, upper = readmodels.day_bounds(first, last)
    return store.select(sql, {"start": lower, "end": upper, "organization_id": "", "team": ""})


def _block_sessions(store, first: date) -> int:
    return _raw(store, views.RAW_ANALYTICS_TOTALS, first, first + timedelta(days=history.BLOCK_DAYS - 1))[0][6]


def test_every_block_has_sessions_of_its_own(store) -> None:
    first = END - timedelta(days=DAYS - 1)
    blocks = [_block_sessions(store, first + timedelta(days=index * history.BLOCK_DAYS)) for index in range(3)]
    whole = _raw(store, views.RAW_ANALYTICS_TOTALS, first, END)[0][6]
    # One session per active member-day: no id is shared between blocks.
    assert blocks[0] == blocks[1] == blocks[2] > MEMBERS
    assert whole == sum(blocks)


def test_the_read_api_over_the_whole_history_equals_a_scan_of_its_raw_rows(store) -> None:
    first = END - timedelta(days=DAYS - 1)
    report = readmodels.analytics(store, first, END)
    lines, removed, accepts, rejects, spend, active_users, sessions = _raw(
        store, views.RAW_ANALYTICS_TOTALS, first, END
    )[0]
    totals = report["totals"]
    assert (totals["accepted_lines"], totals["removed_lines"], totals["accepts"], totals["rejects"]) == (
        lines,
        removed,
        accepts,
        rejects,
    )
    assert totals["spend_usd"] == pytest.approx(spend, abs=1e-6)
    assert (totals["active_users"], totals["sessions"]) == (active_users, sessions)
    assert active_users == MEMBERS
    raw_days = {row[0]: (row[6], row[7]) for row in _raw(store, views.RAW_ANALYTICS_DAYS, first, END)}
    shown_days = {
        date.fromisoformat(day["date"]): (day["active_users"], day["sessions"])
        for day in report["days"]
        if day["active_users"]
    }
    assert len(shown_days) == DAYS and shown_days == raw_days


def test_the_day_summaries_of_the_history_give_the_figures_of_its_raw_rows(store) -> None:
    # The session and member days are rebuilt from the copied blocks' rollups: summed up from the summaries,
    # every range's members and sessions are those of the raw rows.
    assert DaySummaries(store, 0).refresh().days == 2 * DAYS  # the organization, and all of them
    first = END - timedelta(days=DAYS - 1)
    for start in (first, first + timedelta(days=20), END - timedelta(days=29), END):
        totals = readmodels.analytics(store, start, END)["totals"]
        raw = _raw(store, views.RAW_ANALYTICS_TOTALS, start, END)[0]
        assert (totals["active_users"], totals["sessions"]) == (raw[5], raw[6]), start


def test_the_last_days_hold_real_density_in_the_thin_days_members_hours_and_sessions(store) -> None:
    dense_first = END - timedelta(days=history.DENSE_DAYS - 1)
    thin_day, dense_day = dense_first - timedelta(days=1), dense_first
    points_per_hour = len(history._POINT_KINDS)
    events_per_hour = len(history._EVENT_KINDS)
    for day, per_active_hour in (
        (thin_day, points_per_hour + events_per_hour),
        # 13 points a minute (no second session start) and 4 events of each of 4 kinds: 29 rows a minute.
        (dense_day, points_per_hour + events_per_hour + 60 * (points_per_hour - 1 + 4 * events_per_hour)),
    ):
        lower, upper = readmodels.day_bounds(day, day)
        rows, hours = store.select(
            "SELECT count(), uniqExact(member, toStartOfHour(time)) FROM (SELECT member, time FROM metric_points "
            "WHERE time >= {start:DateTime64(9)} AND time < {end:DateTime64(9)} UNION ALL SELECT member, time FROM "
            "events WHERE time >= {start:DateTime64(9)} AND time < {end:DateTime64(9)})",
            {"start": lower, "end": upper},
        )[0]
        assert hours > 0 and rows == hours * per_active_hour, day
        # Denser, not wider: one session per active member-day and 3 active hours each, as on every thin day.
        totals = _raw(store, views.RAW_ANALYTICS_TOTALS, day, day)[0]
        assert totals[5] == totals[6] == hours // history.HOURS_PER_DAY, day
        session_hours = store.select(
            "SELECT count() FROM session_hourly FINAL WHERE hour >= {start:DateTime} AND hour < {end:DateTime}",
            {"start": lower, "end": upper},
        )[0][0]
        assert session_hours == hours, day


def test_a_month_of_the_team_view_equals_a_scan_of_its_raw_rows(store) -> None:
    month_first, month_last = readmodels.month_bounds(2026, 10)
    members = readmodels.team(store, 2026, 10)["members"]
    raw = {row[0]: (row[2], row[3], row[4]) for row in _raw(store, views.RAW_TEAM, month_first, month_last)}
    shown = {
        member["member"]: (member["spend_usd"], member["accepted_lines"], member["sessions"]) for member in members
    }
    assert shown.keys() == raw.keys() and len(shown) == MEMBERS
    for member, (spend, lines, sessions) in raw.items():
        assert shown[member][1:] == (lines, sessions), member
        assert shown[member][0] == pytest.approx(spend, abs=1e-6), member
