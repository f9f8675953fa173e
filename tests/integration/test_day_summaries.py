"""The day summaries (migration 0009, exporters/clickhouse/summaries.py, console/daysummaries.py): the console's
analytics without a team filter add up each day's distinct members and sessions instead of merging every id
of the range, and must give the figures of the facts whether the summaries are current, partly stale (new
rows, a new session, late data for an earlier day) or missing. Which named queries answered is recorded by a
store that passes every call to the real one (chDB), so each test also shows which path gave the figures."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from console import readmodels
from exporters.clickhouse import ClickHouseStore
from exporters.clickhouse.summaries import DaySummaries
from pdata.day_summaries import DaySummary, Distinct
from tests.integration.test_month_boundaries import FACTS, RANGES, assert_analytics_equal_the_facts, store_fact
from tests.integration.test_views_semantics import LINES, metric, ns, write
from tests.support import otlp_raw as otlp
from tests.support.collector import CollectorProcess

D1 = date(2026, 3, 2)
READ_FROM_THE_ROLLUPS = "analytics_days_and_totals"
LOOKED_UP = "session_day_gaps"
MEMBERS_MERGED = "analytics_range_members"


class RecordingStore:
    """The real store, with the names of the queries asked of it kept in order."""

    def __init__(self, store: ClickHouseStore) -> None:
        self.store = store
        self.asked: list[str] = []

    def query(self, name: str, parameters: dict[str, Any]) -> list[tuple[Any, ...]]:
        self.asked.append(name)
        return self.store.query(name, parameters)

    def query_named(self, name: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
        self.asked.append(name)
        return self.store.query_named(name, parameters)

    def insert_rows(self, table: str, column_names: Any, rows: Any) -> None:
        self.store.insert_rows(table, column_names, rows)


def day(n: int) -> date:
    return D1 + timedelta(days=n - 1)


def lines(
    store: ClickHouseStore, on: date, session: str, value: float = 1, member: str = "alice", org: str = ""
) -> None:
    who = {"user.email": f"{member}@example.com", "session.id": session}
    if org:
        who["organization.id"] = org
    write(store, metric(LINES, value, ns(on), who, type="added"))


def sessions_of(store: Any, first: date, last: date, organization_id: str = "") -> tuple[int, list[int]]:
    report = readmodels.analytics(store, first, last, organization_id)
    return report["totals"]["sessions"], [each["sessions"] for each in report["days"]]


def test_a_session_seen_on_several_days_counts_once_in_every_range(store: ClickHouseStore) -> None:
    # s1 on days 1 and 2, s2 on days 1 and 5 (back after three days without it), s3 on day 3.
    for n, session in [(1, "s1"), (2, "s1"), (1, "s2"), (5, "s2"), (3, "s3")]:
        lines(store, day(n), session)
    assert DaySummaries(store, 0).refresh().days == 4  # days 1, 2, 3, 5, each with its summary
    recorded = RecordingStore(store)
    assert sessions_of(recorded, day(1), day(5)) == (3, [2, 1, 1, 0, 1])
    assert sessions_of(recorded, day(2), day(5)) == (3, [1, 1, 0, 1])  # s2's first day is outside: day 5 counts it
    assert sessions_of(recorded, day(2), day(4)) == (2, [1, 1, 0])
    assert sessions_of(recorded, day(1), day(3)) == (3, [2, 1, 1])
    assert sessions_of(recorded, day(5), day(5)) == (1, [1])
    assert readmodels.analytics(recorded, day(1), day(5))["totals"]["active_users"] == 1
    assert not {READ_FROM_THE_ROLLUPS, LOOKED_UP, MEMBERS_MERGED} & set(recorded.asked)


def members_of(store: Any, first: date, last: date) -> tuple[int, list[int]]:
    report = readmodels.analytics(store, first, last)
    return report["totals"]["active_users"], [each["active_users"] for each in report["days"]]


def test_a_member_active_on_several_days_counts_once_in_every_range(store: ClickHouseStore) -> None:
    # alice on days 1 and 3, bob on day 2, carol on days 3 and 4.
    for n, member in [(1, "alice"), (3, "alice"), (2, "bob"), (3, "carol"), (4, "carol")]:
        lines(store, day(n), f"s-{member}-{n}", member=member)
    DaySummaries(store, 0).refresh()
    recorded = RecordingStore(store)
    assert members_of(recorded, day(1), day(4)) == (3, [1, 1, 2, 1])
    assert members_of(recorded, day(2), day(4)) == (3, [1, 2, 1])  # alice's first day is outside: day 3 counts her
    assert members_of(recorded, day(3), day(4)) == (2, [2, 1])
    assert members_of(recorded, day(4), day(4)) == (1, [1])
    assert MEMBERS_MERGED not in recorded.asked
    # carol again on day 4: more rows, the same members, so day 4's summary still holds.
    lines(store, day(4), "s-carol-4", member="carol")
    assert members_of(recorded, day(2), day(4)) == (3, [1, 2, 1])
    assert "day_member_counts" in recorded.asked and MEMBERS_MERGED not in recorded.asked
    # bob back on day 4, and dave new on it: day 4's members changed, so the range's are merged from the states.
    lines(store, day(4), "s-bob-4", member="bob")
    lines(store, day(4), "s-dave-4", member="dave")
    assert members_of(recorded, day(2), day(4)) == (4, [1, 2, 3])
    assert MEMBERS_MERGED in recorded.asked
    DaySummaries(store, 0).refresh()
    recorded.asked.clear()
    assert members_of(recorded, day(1), day(4)) == (4, [1, 1, 2, 3])
    assert members_of(recorded, day(3), day(4)) == (4, [2, 3])
    assert MEMBERS_MERGED not in recorded.asked


def test_a_return_after_more_days_than_the_window_is_a_new_session_of_the_range(store: ClickHouseStore) -> None:
    # s1 on day 1 and 401 days later: a range of 401 days from day 2 counts it once, a range from day 1 (402
    # days: longer than the summaries reach) too, from the rollups.
    lines(store, day(1), "s1")
    lines(store, day(402), "s1")
    lines(store, day(200), "s2")
    DaySummaries(store, 0).refresh()
    recorded = RecordingStore(store)
    assert readmodels.analytics(recorded, day(2), day(402))["totals"]["sessions"] == 2
    assert READ_FROM_THE_ROLLUPS not in recorded.asked
    assert readmodels.analytics(recorded, day(1), day(402))["totals"]["sessions"] == 2
    assert READ_FROM_THE_ROLLUPS in recorded.asked


def test_the_figures_of_the_month_boundaries_facts_from_the_summaries(store: ClickHouseStore) -> None:
    # Members and sessions across months, years and teams; sessions without an id; an event alone.
    for fact in FACTS:
        store_fact(store, fact)
    DaySummaries(store, 0).refresh()
    recorded = RecordingStore(store)
    for first, last in RANGES:
        assert_analytics_equal_the_facts(recorded, first, last, "")  # type: ignore[arg-type]
    assert READ_FROM_THE_ROLLUPS not in recorded.asked and LOOKED_UP not in recorded.asked


def test_rows_sessions_and_late_data_after_a_refresh(store: ClickHouseStore) -> None:
    for n, session in [(1, "s1"), (2, "s1"), (2, "s2"), (6, "s3")]:
        lines(store, day(n), session)
    DaySummaries(store, 0).refresh()
    recorded = RecordingStore(store)

    # More rows of sessions already counted (day 6's fingerprint grew, its sessions did not): the summary holds.
    lines(store, day(6), "s3", 4)
    assert sessions_of(recorded, day(1), day(6)) == (3, [1, 2, 0, 0, 0, 1])
    assert "day_sessions" in recorded.asked and LOOKED_UP not in recorded.asked
    assert "day_member_counts" in recorded.asked and MEMBERS_MERGED not in recorded.asked
    assert readmodels.analytics(recorded, day(1), day(6))["totals"]["accepted_lines"] == 8

    # A new session on day 6, and s1 back on it: day 6 is looked up, the range still counts s1 once.
    recorded.asked.clear()
    lines(store, day(6), "s4")
    lines(store, day(6), "s1")
    assert sessions_of(recorded, day(1), day(6)) == (4, [1, 2, 0, 0, 0, 3])
    assert sessions_of(recorded, day(3), day(6)) == (3, [0, 0, 0, 3])
    assert LOOKED_UP in recorded.asked and READ_FROM_THE_ROLLUPS not in recorded.asked

    # Late data: s3 on day 3. Every later day's summary is stale now (its window changed): with four of them the
    # range is read from the rollups, and after the next refresh from the summaries again.
    recorded.asked.clear()
    lines(store, day(3), "s3")
    assert sessions_of(recorded, day(3), day(6)) == (3, [1, 0, 0, 3])
    assert sessions_of(recorded, day(1), day(6)) == (4, [1, 2, 1, 0, 0, 3])
    assert READ_FROM_THE_ROLLUPS not in recorded.asked  # days 3 and 6 only: 2 looked up
    lines(store, day(4), "s5")  # days 3, 4 and 6 stale, and day 5 gets one of its own
    lines(store, day(5), "s5")
    assert sessions_of(recorded, day(1), day(6)) == (5, [1, 2, 1, 1, 1, 3])
    assert READ_FROM_THE_ROLLUPS in recorded.asked
    assert DaySummaries(store, 0).refresh().days == 4  # days 3, 4, 5 and 6 (and the same for no other scope)
    recorded.asked.clear()
    assert sessions_of(recorded, day(1), day(6)) == (5, [1, 2, 1, 1, 1, 3])
    assert sessions_of(recorded, day(4), day(6)) == (4, [1, 1, 3])  # s5, and s3, s4, s1 of day 6
    assert recorded.asked.count(LOOKED_UP) == 0 and READ_FROM_THE_ROLLUPS not in recorded.asked


def test_late_data_for_an_earlier_day_makes_the_days_after_it_stale(store: ClickHouseStore) -> None:
    # a on days 1 and 3, b on day 3: day 3's summary has b new and a back after two days.
    for n, session in [(1, "a"), (3, "a"), (3, "b")]:
        lines(store, day(n), session)
    DaySummaries(store, 0).refresh()
    assert sessions_of(store, day(2), day(3)) == (2, [0, 2])
    # b turns up on day 2 too, late: day 3's own sessions are unchanged, but b is no longer new on it.
    lines(store, day(2), "b")
    recorded = RecordingStore(store)
    assert sessions_of(recorded, day(2), day(3)) == (2, [1, 2])
    assert recorded.asked.count(LOOKED_UP) == 1  # days 2 and 3 together
    DaySummaries(store, 0).refresh()
    recorded.asked.clear()
    assert sessions_of(recorded, day(2), day(3)) == (2, [1, 2])
    assert sessions_of(recorded, day(1), day(3)) == (2, [1, 1, 2])
    assert LOOKED_UP not in recorded.asked


def test_organizations_have_summaries_of_their_own_and_all_of_them_one(store: ClickHouseStore) -> None:
    # The same session id in two organizations is one session of all of them (as the rollups count it).
    lines(store, day(1), "s1", member="alice", org="org-a")
    lines(store, day(2), "s1", member="bob", org="org-b")
    lines(store, day(2), "s2", member="bob", org="org-b")
    report = DaySummaries(store, 0).refresh()
    assert (report.scopes, report.days) == (3, 2 + 1 + 1)
    recorded = RecordingStore(store)
    assert sessions_of(recorded, day(1), day(2)) == (2, [1, 2])
    assert sessions_of(recorded, day(1), day(2), "org-a") == (1, [1, 0])
    assert sessions_of(recorded, day(1), day(2), "org-b") == (2, [0, 2])
    every = readmodels.analytics(recorded, day(1), day(2))
    assert [each["active_users"] for each in every["days"]] == [1, 1] and every["totals"]["active_users"] == 2
    assert READ_FROM_THE_ROLLUPS not in recorded.asked and LOOKED_UP not in recorded.asked


def test_one_organization_holding_every_row_is_computed_once_for_both_scopes(store: ClickHouseStore) -> None:
    lines(store, day(1), "s1", org="org-a")
    lines(store, day(2), "s1", org="org-a")
    lines(store, day(2), "s2", member="bob", org="org-a")
    recorded = RecordingStore(store)
    summaries = DaySummaries(recorded, 0)
    report = summaries.refresh()
    assert (report.scopes, report.days) == (2, 2 + 2)
    assert recorded.asked.count(LOOKED_UP) == 1  # the organization's days; all of them written from the same
    recorded.asked.clear()
    for scope in ("", "org-a"):
        assert sessions_of(recorded, day(1), day(2), scope) == (2, [1, 2])
        every = readmodels.analytics(recorded, day(1), day(2), scope)
        assert [each["active_users"] for each in every["days"]] == [1, 2] and every["totals"]["active_users"] == 2
    assert not {READ_FROM_THE_ROLLUPS, LOOKED_UP, MEMBERS_MERGED, "day_sessions", "day_members"} & set(recorded.asked)

    # A new session on day 2: one look-up, day 2 written for both scopes.
    lines(store, day(2), "s3", org="org-a")
    recorded.asked.clear()
    assert summaries.refresh().days == 2
    assert recorded.asked.count(LOOKED_UP) == 1
    assert sessions_of(store, day(1), day(2)) == sessions_of(store, day(1), day(2), "org-a") == (3, [1, 3])
    # A second organization: each scope has sets of its own again.
    lines(store, day(2), "s9", member="carol", org="org-b")
    recorded.asked.clear()
    assert summaries.refresh().days == 2  # all of them and org-b's day 2; org-a's days are current
    assert sessions_of(store, day(1), day(2)) == (4, [1, 4])
    assert sessions_of(store, day(1), day(2), "org-a") == (3, [1, 3])
    assert sessions_of(store, day(1), day(2), "org-b") == (1, [0, 1])
    assert store.select("SELECT count() FROM day_summaries FINAL")[0][0] == 2 + 2 + 1


def test_a_refresh_writes_only_what_is_not_current(store: ClickHouseStore) -> None:
    lines(store, day(1), "s1")
    lines(store, day(2), "s2")
    recorded = RecordingStore(store)
    summaries = DaySummaries(recorded, 0)
    assert summaries.refresh().days == 2
    assert summaries.refresh().days == 0
    # More rows of the same member and session on day 2: its summary is written again at the new fingerprints,
    # its returns kept (nothing looked up), and it is current for the console.
    recorded.asked.clear()
    lines(store, day(2), "s2")
    assert summaries.refresh().days == 1
    assert not {"member_day_returns", "member_day_gaps", LOOKED_UP} & set(recorded.asked)
    recorded.asked.clear()
    assert sessions_of(recorded, day(1), day(2)) == (2, [1, 1])
    assert not {"day_sessions", "day_members", LOOKED_UP, MEMBERS_MERGED} & set(recorded.asked)
    # A new session on day 2: looked up by the next refresh.
    lines(store, day(2), "s3")
    recorded.asked.clear()
    assert summaries.refresh().days == 1
    assert LOOKED_UP in recorded.asked
    assert sessions_of(store, day(1), day(2)) == (3, [1, 2])
    assert store.select("SELECT count() FROM day_summaries FINAL")[0][0] == 2


def kept_ids(store: ClickHouseStore) -> dict[tuple[date, str], int]:
    rows = store.select("SELECT day, kind, uniqExact(key) FROM day_summary_ids GROUP BY day, kind")
    return {(on, kind): count for on, kind, count in rows}


def test_between_refreshes_only_the_ids_beyond_the_kept_ones_are_looked_up(store: ClickHouseStore) -> None:
    # Live ingest: today's summary is behind by a new member and session within seconds of any refresh. Today's
    # and yesterday's summaries keep their ids, so the console looks up only the ids that arrived since.
    today = datetime.now(UTC).date()
    on = {n: today - timedelta(days=5 - n) for n in range(6)}  # on[5] is today
    lines(store, on[2], "s1", member="alice")
    lines(store, on[4], "s3", member="bob")
    lines(store, on[5], "s2", member="alice")
    summaries = DaySummaries(store, 0, today=lambda: today)
    assert summaries.refresh().days == 3
    assert kept_ids(store) == {(on[4], "members"): 1, (on[4], "sessions"): 1, (on[5], "members"): 1,
                               (on[5], "sessions"): 1}  # fmt: skip
    # Since the refresh: carol with a new session, alice with s1 (last seen 3 days ago), dave with s3 (yesterday's).
    lines(store, on[5], "s4", member="carol")
    lines(store, on[5], "s1", member="alice")
    lines(store, on[5], "s3", member="dave")
    recorded = RecordingStore(store)
    assert sessions_of(recorded, on[0], on[5]) == (4, [0, 0, 1, 0, 1, 4])
    assert members_of(recorded, on[0], on[5]) == (4, [0, 0, 1, 0, 1, 3])
    assert sessions_of(recorded, on[3], on[5]) == (4, [0, 1, 4])  # s1's earlier day is outside the range
    assert members_of(recorded, on[3], on[5]) == (4, [0, 1, 3])  # alice's too
    assert sessions_of(recorded, on[5], on[5]) == (4, [4])
    assert members_of(recorded, on[5], on[5]) == (3, [3])
    assert {"day_new_sessions", "sessions_previous_days", "day_new_members", "members_previous_days_in_month"} <= set(
        recorded.asked
    )
    assert not {LOOKED_UP, MEMBERS_MERGED, "day_members", "day_sessions", READ_FROM_THE_ROLLUPS} & set(recorded.asked)
    # The next refresh counts them itself, with their ids.
    assert summaries.refresh().days == 1
    assert kept_ids(store)[(on[5], "members")] == 3 and kept_ids(store)[(on[5], "sessions")] == 4
    recorded.asked.clear()
    assert sessions_of(recorded, on[0], on[5]) == (4, [0, 0, 1, 0, 1, 4])
    assert members_of(recorded, on[3], on[5]) == (4, [0, 1, 3])
    assert not {"day_new_sessions", "day_new_members", LOOKED_UP, MEMBERS_MERGED} & set(recorded.asked)


def test_a_refresh_from_the_kept_ids_writes_what_a_whole_look_up_writes(store: ClickHouseStore) -> None:
    # Today's summary computed again from the ids beyond the kept ones (members' last days from the monthly
    # rollup's last_seen for earlier months) equals today's summary computed from every id of the day.
    today = datetime.now(UTC).date()
    ago = {n: today - timedelta(days=n) for n in (0, 2, 35, 40, 400, 401)}
    lines(store, ago[40], "s-a-40", member="alice")
    lines(store, ago[2], "s-a-2", member="alice")
    lines(store, ago[35], "s-b-35", member="bob")
    lines(store, ago[401], "s-e-401", member="erin")
    lines(store, ago[400], "s-f-400", member="frank")
    lines(store, ago[0], "s-c-0", member="carol")
    recorded = RecordingStore(store)
    summaries = DaySummaries(recorded, 0, today=lambda: today)
    summaries.refresh()
    for member, session in [("alice", "s-a-40"), ("bob", "s-b-new"), ("dave", "s-b-35"), ("erin", "s-e-0"),
                            ("frank", "s-f-0")]:  # fmt: skip
        lines(store, ago[0], session, member=member)
    recorded.asked.clear()
    assert summaries.refresh().days == 1
    assert {
        "day_new_members",
        "members_previous_days_in_month",
        "members_previous_days_before_month",
        "day_new_sessions",
        "sessions_previous_days",
    } <= set(recorded.asked)
    assert not {"member_day_previous", "session_day_previous"} & set(recorded.asked)
    [(_, from_kept)] = store.query("day_summaries", {"organization_id": "", "first": today, "last": today})
    # alice back after 2 days, bob after 35, frank after 400, erin's last day 401 days ago is out of the window
    assert DaySummary.from_row(today, from_kept).members == Distinct(today, 6, [2, 35, 400], [1, 1, 1],
                                                                       *from_kept[:2])  # fmt: skip
    # s-a-40 back after 40 days, s-b-35 after 35
    assert DaySummary.from_row(today, from_kept).sessions == Distinct(today, 6, [35, 40], [1, 1],
                                                                        *from_kept[5:7])  # fmt: skip
    store.execute("TRUNCATE TABLE day_summary_ids")
    stale = "member_rows = 0, members = members + 1, session_rows = 0, sessions = sessions + 1"
    store.execute(f"ALTER TABLE day_summaries UPDATE {stale} WHERE day = '{today}'", settings={"mutations_sync": 2})
    recorded.asked.clear()
    summaries.refresh()
    assert {"member_day_previous", "session_day_previous"} <= set(recorded.asked)
    [(_, whole)] = store.query("day_summaries", {"organization_id": "", "first": today, "last": today})
    assert whole[2:5] == from_kept[2:5] and whole[7:] == from_kept[7:]


def test_kept_ids_that_are_not_the_summarys_are_not_used(store: ClickHouseStore) -> None:
    # A refresh stopped between the ids and the summaries, or ids gone: the console looks the day up whole.
    today = datetime.now(UTC).date()
    lines(store, today - timedelta(days=1), "s1")
    lines(store, today, "s2")
    DaySummaries(store, 0, today=lambda: today).refresh()
    store.execute("TRUNCATE TABLE day_summary_ids")
    lines(store, today, "s3", member="bob")
    recorded = RecordingStore(store)
    assert sessions_of(recorded, today - timedelta(days=1), today) == (3, [1, 2])
    assert members_of(recorded, today - timedelta(days=1), today) == (2, [1, 2])
    assert "day_new_sessions" in recorded.asked and LOOKED_UP in recorded.asked and MEMBERS_MERGED in recorded.asked


def test_late_data_before_a_day_whose_ids_are_kept_looks_that_day_up_whole(store: ClickHouseStore) -> None:
    # s1 late on an earlier day changes today's window: its kept returns no longer hold.
    today = datetime.now(UTC).date()
    lines(store, today, "s1")
    DaySummaries(store, 0, today=lambda: today).refresh()
    lines(store, today - timedelta(days=2), "s1")
    lines(store, today, "s2")
    recorded = RecordingStore(store)
    assert sessions_of(recorded, today - timedelta(days=2), today) == (2, [1, 0, 2])
    assert "day_new_sessions" not in recorded.asked and LOOKED_UP in recorded.asked


def test_a_day_looked_up_whole_writes_only_the_ids_not_kept_yet(store: ClickHouseStore) -> None:
    # Late data before today makes the refresh look today up whole. Its kept ids stay one row per id: a read of
    # them (every read of today between refreshes) would otherwise take each twice until a merge.
    store.execute("SYSTEM STOP MERGES day_summary_ids")
    today = datetime.now(UTC).date()
    lines(store, today, "s1")
    lines(store, today, "s2", member="bob")
    summaries = DaySummaries(store, 0, today=lambda: today)
    summaries.refresh()
    lines(store, today - timedelta(days=2), "s1")
    lines(store, today, "s3", member="carol")
    recorded = RecordingStore(store)
    DaySummaries(recorded, 0, today=lambda: today).refresh()
    assert "session_day_previous" in recorded.asked and "day_kept_ids" in recorded.asked
    rows = store.select("SELECT kind, count() FROM day_summary_ids WHERE day = {d:Date} GROUP BY kind", {"d": today})
    assert dict(rows) == {"members": 3, "sessions": 3}
    assert sessions_of(store, today - timedelta(days=2), today) == (3, [1, 0, 3])
    assert members_of(store, today - timedelta(days=2), today) == (3, [1, 0, 3])


def test_the_collectors_thread_refreshes_after_commits(store: ClickHouseStore) -> None:
    summaries = DaySummaries(store, 0)
    summaries.start()
    try:
        lines(store, day(1), "s1")
        summaries.on_commit([], [])
        written = 0
        for _ in range(100):
            written = store.select("SELECT count() FROM day_summaries FINAL WHERE day = {d:Date}", {"d": day(1)})[0][0]
            if written:
                break
            time.sleep(0.05)
        assert written == 1
    finally:
        summaries.close()


def test_the_collector_keeps_the_summaries_of_what_it_commits(tmp_path: Path) -> None:
    # The real collector: its summaries thread writes the day of an export for the organization and for all of
    # them, and logs it; the console's figures are the export's.
    org = "org-summaries"
    running = CollectorProcess(
        data_dir=tmp_path / "data",
        extra_env={"CC_ANALYTICS_LOG_LEVEL": "debug", "CC_ANALYTICS_STORAGE_SUMMARIES_REFRESH_SECONDS": "1"},
    ).start()
    try:
        otlp.send(running, "http/protobuf", otlp.edit_request(org, lines=10, session="s1"))
        otlp.send(running, "http/protobuf", otlp.edit_request(org, lines=5, session="s2", name="dev2"))
        written: list[dict[str, Any]] = []
        deadline = time.monotonic() + 30
        while sum(line["days"] for line in written) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            written = [
                record
                for record in map(json.loads, running.log().splitlines())
                if record.get("event") == "day_summaries.refreshed"
            ]
        assert sum(line["days"] for line in written) >= 2, running.log()[-2000:]
        totals = otlp.figures(running, org)
        assert (totals["accepted_lines"], totals["sessions"]) == (15, 2)
    finally:
        running.kill()
