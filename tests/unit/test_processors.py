"""Each processor's semantics (ARCHITECTURE.md, Semantics), with hand-computed expectations."""

from __future__ import annotations

from pdata import CUMULATIVE, DELTA, Batch, MetricPoint, Sender
from processors.chain import ProcessorChain
from processors.dedup import RequestDeduplicator
from processors.derive import fact_of
from processors.identity import DirectoryEntry, IdentityResolver
from processors.temporality import CumulativeToDelta, DropReason, series_key

KEY_SENDER = Sender(token_name="ci", api_key_id="apikey_01CI", organization_id="org-token")


def point(
    value: float, time_ns: int, start_ns: int = 1, temporality: int = CUMULATIVE, **attributes: str
) -> MetricPoint:
    return MetricPoint(
        metric=attributes.pop("metric", "claude_code.lines_of_code.count"),
        unit="",
        temporality=temporality,
        monotonic=True,
        start_ns=start_ns,
        time_ns=time_ns,
        value=value,
        attributes={"type": "added", **attributes},
        resource={},
    )


# --- identity --------------------------------------------------------------------------------------------


def test_email_wins_over_account_key_and_directory() -> None:
    resolver = IdentityResolver({"u1": DirectoryEntry("mapped@example.com", "email", "core")})
    attributes = {"user.email": "a@example.com", "user.account_id": "user_01A", "user.id": "u1"}
    member = resolver.resolve(attributes, {}, KEY_SENDER)
    assert (member.member, member.kind, member.team) == ("a@example.com", "email", "core")


def test_account_then_api_key_then_directory_then_user_id() -> None:
    resolver = IdentityResolver({"u1": DirectoryEntry("mapped@example.com", "email", "core")})
    assert resolver.resolve({"user.account_uuid": "uuid-1", "user.id": "u1"}, {}, KEY_SENDER).kind == "account"
    keyed = resolver.resolve({"user.id": "u1"}, {}, KEY_SENDER)
    assert (keyed.member, keyed.kind, keyed.organization_id) == ("apikey_01CI", "api_key", "org-token")
    mapped = resolver.resolve({"user.id": "u1"}, {}, Sender())
    assert (mapped.member, mapped.kind) == ("mapped@example.com", "email")
    raw = resolver.resolve({"user.id": "u2"}, {}, Sender())
    assert (raw.member, raw.kind) == ("u2", "anonymous")


def test_the_tokens_organization_pins_the_points() -> None:
    # A token bound to an organization pins it (the receiver refuses conflicting points unless the operator
    # chose override, which lands here); a sender without a bound organization keeps the point's own.
    member = IdentityResolver().resolve({"organization.id": "org-point", "user.id": "u"}, {}, KEY_SENDER)
    assert member.organization_id == "org-token"
    assert IdentityResolver().resolve({"organization.id": "org-point"}, {}, Sender()).organization_id == "org-point"


# --- temporality -----------------------------------------------------------------------------------------


def test_cumulative_becomes_deltas_with_resets() -> None:
    converter = CumulativeToDelta()
    pending: dict = {}
    key = 7
    assert converter.delta(key, point(10, time_ns=100), pending) == 10  # first sight: all since start
    assert converter.delta(key, point(25, time_ns=200), pending) == 15
    assert converter.delta(key, point(25, time_ns=300), pending) is DropReason.UNCHANGED  # nothing to store
    assert converter.delta(key, point(4, time_ns=400), pending) == 4  # value drop: a reset
    assert converter.delta(key, point(6, time_ns=500, start_ns=450), pending) == 6  # new start time: a reset
    assert converter.delta(key, point(9, time_ns=450), pending) is DropReason.STALE  # older than the last seen


def test_cumulative_state_is_committed_only_when_told() -> None:
    converter = CumulativeToDelta()
    first: dict = {}
    assert converter.delta(1, point(10, time_ns=100), first) == 10
    # The write of `first` failed: nothing committed, so the retry counts the 10 again.
    retry: dict = {}
    assert converter.delta(1, point(10, time_ns=100), retry) == 10
    converter.commit(retry)
    assert converter.delta(1, point(12, time_ns=200), {}) == 2


def test_delta_points_pass_through() -> None:
    assert CumulativeToDelta().delta(1, point(3, time_ns=100, temporality=DELTA), {}) == 3


def test_series_key_depends_on_attributes_and_sender() -> None:
    a = point(1, 1, user_id="x")
    b = point(1, 1, user_id="y")
    assert series_key(a, Sender()) != series_key(b, Sender())
    assert series_key(a, Sender()) != series_key(a, KEY_SENDER)
    assert series_key(a, Sender()) == series_key(point(5, 9, user_id="x"), Sender())


# --- dedup -----------------------------------------------------------------------------------------------


def test_dedup_window_forgets_after_the_window() -> None:
    dedup = RequestDeduplicator(window_ns=1_000)
    dedup.remember(b"a", 100)
    dedup.remember(b"b", 900)
    dedup.expire(1_500)
    assert not dedup.seen(b"a") and dedup.seen(b"b")


def test_a_digest_not_yet_expired_is_not_seen_past_its_window() -> None:
    # The durable queue asks at a request's arrival, which may come long after the last group's expire().
    dedup = RequestDeduplicator(window_ns=1_000)
    dedup.remember(b"a", 100)
    assert dedup.seen(b"a") and dedup.seen(b"a", now_ns=1_100)
    assert not dedup.seen(b"a", now_ns=1_101)


# --- derive ----------------------------------------------------------------------------------------------


def test_facts_of_claude_code_metrics() -> None:
    decision = "claude_code.code_edit_tool.decision"
    assert fact_of(point(1, 1, type="added")) == "lines_added"
    assert fact_of(point(1, 1, type="removed")) == "lines_removed"
    for tool in ("Edit", "MultiEdit", "Write", "NotebookEdit"):
        assert fact_of(point(1, 1, metric=decision, tool_name=tool, decision="accept")) == "edit_accept"
        assert fact_of(point(1, 1, metric=decision, tool_name=tool, decision="reject")) == "edit_reject"
    assert fact_of(point(1, 1, metric=decision, tool="Write", decision="reject")) == "edit_reject"  # older clients
    assert fact_of(point(1, 1, metric=decision, tool_name="Bash", decision="accept")) == ""
    assert fact_of(point(1, 1, metric="claude_code.cost.usage")) == "cost_usd"
    assert fact_of(point(1, 1, metric="claude_code.token.usage", type="cacheRead")) == "tokens_cache_read"
    assert fact_of(point(1, 1, metric="some.unknown.metric")) == ""


# --- chain -----------------------------------------------------------------------------------------------


def _chain() -> ProcessorChain:
    return ProcessorChain(IdentityResolver(), CumulativeToDelta(), RequestDeduplicator(10**12))


def _batch(digest: bytes, *points: MetricPoint) -> Batch:
    return Batch(signal="metrics", digest=digest, sender=Sender(), received_ns=1, points=list(points))


def test_duplicate_request_in_one_group_and_after_commit() -> None:
    chain = _chain()
    one = _batch(b"d1", point(5, 100, temporality=DELTA, **{"user.id": "u"}))
    group = chain.process([one, one])
    assert group.duplicates == {1} and [fact.delta for fact in group.points] == [5]
    chain.commit(group)
    assert chain.process([one]).duplicates == {0}


def test_uncommitted_group_leaves_no_trace() -> None:
    chain = _chain()
    batch = _batch(b"d1", point(10, 100, **{"user.id": "u"}))
    chain.process([batch])  # the write failed: never committed
    group = chain.process([batch])
    assert group.duplicates == set() and [fact.delta for fact in group.points] == [10]


def test_idle_cumulative_series_are_forgotten_after_the_state_window() -> None:
    converter = CumulativeToDelta()
    chain = ProcessorChain(IdentityResolver(), converter, RequestDeduplicator(10**12), state_window_ns=1_000)
    old = _batch(b"old", point(10, time_ns=100, **{"user.id": "u", "session.id": "s1"}))
    old.received_ns = 100
    chain.commit(chain.process([old]))
    assert len(converter) == 1
    later = 61 * 10**9  # expiry runs at most once a minute
    fresh = _batch(b"new", point(3, time_ns=later, **{"user.id": "u", "session.id": "s2"}))
    fresh.received_ns = later
    chain.commit(chain.process([fresh]))
    assert len(converter) == 1  # s1's series was last seen before the window


def test_event_tool_name_comes_from_tool_in_older_clients() -> None:
    from pdata import LogEvent

    event = LogEvent(1, "tool_decision", "", {"user.id": "u", "tool": "Edit", "decision": "reject"}, {})
    batch = Batch(signal="logs", digest=b"e1", sender=Sender(), received_ns=1, events=[event])
    assert [fact.tool_name for fact in _chain().process([batch]).events] == ["Edit"]
