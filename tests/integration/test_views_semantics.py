"""The console's figures computed by the real engine (chDB) from facts with hand-computed expectations."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import count

from console import readmodels
from exporters.clickhouse import ClickHouseStore
from pdata import DELTA, Batch, LogEvent, MetricPoint, Sender
from processors.chain import ProcessorChain
from processors.dedup import RequestDeduplicator
from processors.identity import IdentityResolver
from processors.temporality import CumulativeToDelta

_digests = count()
ANONYMOUS = Sender()


def ns(day: date, hour: int = 12) -> int:
    return int(datetime(day.year, day.month, day.day, hour, tzinfo=UTC).timestamp()) * 1_000_000_000


def metric(name: str, value: float, when: int, who: dict[str, str], **attributes: str) -> MetricPoint:
    return MetricPoint(name, "", DELTA, True, when - 1, when, value, {**who, **attributes}, {})


def write(
    store: ClickHouseStore, *points: MetricPoint, events: tuple[LogEvent, ...] = (), sender: Sender = ANONYMOUS
) -> None:
    chain = ProcessorChain(IdentityResolver(), CumulativeToDelta(), RequestDeduplicator(10**15))
    batch = Batch("metrics", next(_digests).to_bytes(16, "big"), sender, 1, list(points), list(events))
    group = chain.process([batch])
    store.write(group.points, group.events)


DECISION = "claude_code.code_edit_tool.decision"
LINES = "claude_code.lines_of_code.count"
ALICE = {"user.email": "alice@example.com", "session.id": "s1", "user.id": "ua"}
DAY = date(2026, 3, 10)


def write_alices_edits(store: ClickHouseStore, at: int) -> None:
    """Alice's Write proposals at `at`: 3 accepted, 1 rejected, and 10 + 5 + 1 lines added."""
    write(
        store,
        metric(DECISION, 3, at, ALICE, tool_name="Write", decision="accept"),
        metric(DECISION, 1, at, ALICE, tool_name="Write", decision="reject"),
        metric(LINES, 10, at, ALICE, type="added"),
        metric(LINES, 5, at, ALICE, type="added"),
        metric(LINES, 1, at, ALICE, type="added"),
    )


def test_three_accepted_writes_and_one_reject(store: ClickHouseStore) -> None:
    write_alices_edits(store, ns(DAY))
    report = readmodels.analytics(store, DAY, DAY)
    assert report["totals"]["accepted_lines"] == 16
    assert report["totals"]["acceptance_rate"] == 0.75
    assert report["acceptance_by_tool"] == {"Write": {"accepts": 3, "rejects": 1, "acceptance_rate": 0.75}}


def test_no_decisions_means_no_rate_and_idle_days_are_zero(store: ClickHouseStore) -> None:
    write(store, metric("claude_code.cost.usage", 0.5, ns(DAY), ALICE, model="m"))
    report = readmodels.analytics(store, date(2026, 3, 9), date(2026, 3, 11))
    assert [day["date"] for day in report["days"]] == ["2026-03-09", "2026-03-10", "2026-03-11"]
    assert report["days"][0] == {
        "date": "2026-03-09", "accepted_lines": 0, "removed_lines": 0, "accepts": 0, "rejects": 0,
        "acceptance_rate": None, "active_users": 0, "sessions": 0, "spend_usd": 0.0,
    }  # fmt: skip
    assert report["days"][1]["spend_usd"] == 0.5 and report["days"][1]["acceptance_rate"] is None
    assert report["totals"]["acceptance_rate"] is None


def test_members_and_sessions_are_distinct_per_day_and_over_the_range(store: ClickHouseStore) -> None:
    bob = {"user.account_id": "user_01BOB", "session.id": "s2", "user.id": "ub"}
    next_day = date(2026, 3, 11)
    write(
        store,
        metric("claude_code.cost.usage", 1, ns(DAY, 23), ALICE, model="m"),
        metric("claude_code.cost.usage", 1, ns(next_day, 1), ALICE, model="m"),  # same session, next day
        metric("claude_code.cost.usage", 1, ns(next_day, 2), bob, model="m"),
    )
    report = readmodels.analytics(store, DAY, next_day)
    assert [(d["active_users"], d["sessions"]) for d in report["days"]] == [(1, 1), (2, 2)]
    assert (report["totals"]["active_users"], report["totals"]["sessions"]) == (2, 2)
    assert report["totals"]["spend_usd"] == 3.0


def test_events_alone_make_a_member_active(store: ClickHouseStore) -> None:
    event = LogEvent(ns(DAY), "user_prompt", "claude_code.user_prompt", {**ALICE, "prompt_length": "4"}, {})
    write(store, events=(event,))
    totals = readmodels.analytics(store, DAY, DAY)["totals"]
    assert (totals["active_users"], totals["sessions"], totals["spend_usd"]) == (1, 1, 0.0)


def test_session_count_is_used_when_session_ids_are_off(store: ClickHouseStore) -> None:
    no_session = {"user.email": "alice@example.com", "user.id": "ua"}
    write(store, metric("claude_code.session.count", 2, ns(DAY), no_session, start_type="fresh"))
    assert readmodels.analytics(store, DAY, DAY)["totals"]["sessions"] == 2


def test_team_view_per_member_for_the_month(store: ClickHouseStore) -> None:
    key_sender = Sender("ci", "apikey_01CI", "")
    write(
        store,
        metric("claude_code.cost.usage", 2.5, ns(DAY), {"user.id": "u-key", "session.id": "k1"}, model="m"),
        metric(LINES, 7, ns(DAY), {"user.id": "u-key", "session.id": "k1"}, type="added"),
        sender=key_sender,
    )
    write(
        store,
        metric("claude_code.cost.usage", 0.75, ns(DAY), ALICE, model="m"),
        metric("claude_code.cost.usage", 9, ns(date(2026, 4, 1)), ALICE, model="m"),
    )  # next month: not counted
    team = readmodels.team(store, 2026, 3)
    assert team["month"] == "2026-03"
    assert [
        (m["member"], m["member_type"], m["spend_usd"], m["accepted_lines"], m["sessions"]) for m in team["members"]
    ] == [
        ("apikey_01CI", "api_key", 2.5, 7, 1),
        ("alice@example.com", "email", 0.75, 0, 1),
    ]
    assert team["members"][1]["last_active"] == "2026-03-10T12:00:00Z"


def test_organization_filter(store: ClickHouseStore) -> None:
    write(store, metric("claude_code.cost.usage", 1, ns(DAY), {**ALICE, "organization.id": "org-a"}, model="m"))
    write(store, metric("claude_code.cost.usage", 2, ns(DAY), {**ALICE, "organization.id": "org-b"}, model="m"))
    assert readmodels.analytics(store, DAY, DAY, organization_id="org-a")["totals"]["spend_usd"] == 1.0
    assert readmodels.analytics(store, DAY, DAY)["totals"]["spend_usd"] == 3.0
