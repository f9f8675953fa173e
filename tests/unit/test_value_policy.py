"""The value and time policy (processors/policy): what cannot be true is refused with a reason, once, and never
reaches the cumulative state or a figure."""

from __future__ import annotations

import math

import pytest

from pdata import CUMULATIVE, DELTA, Batch, LogEvent, MetricPoint, Sender
from processors.chain import ProcessorChain
from processors.dedup import RequestDeduplicator
from processors.identity import IdentityResolver
from processors.policy import COUNTER_LIMITS, TimeWindow, ValuePolicy
from processors.temporality import CumulativeToDelta

HOUR_NS = 3600 * 10**9
DAY_NS = 24 * HOUR_NS
NOW = 1_800_000_000 * 10**9
WINDOW = TimeWindow(max_age_ns=35 * DAY_NS, max_ahead_ns=HOUR_NS)
LINES = "claude_code.lines_of_code.count"
COST = "claude_code.cost.usage"


def point(
    value: float,
    metric: str = LINES,
    temporality: int = DELTA,
    monotonic: bool = True,
    time_ns: int = NOW,
    start_ns: int = NOW - 10**9,
    **attributes: str,
) -> MetricPoint:
    return MetricPoint(metric, "", temporality, monotonic, start_ns, time_ns, value,
                       {"user.id": "u", "type": "added", **attributes}, {})  # fmt: skip


def batch(*points: MetricPoint, events: tuple[LogEvent, ...] = (), digest: bytes = b"d") -> Batch:
    return Batch("metrics", digest, Sender(), NOW, list(points), list(events))


@pytest.mark.parametrize(
    ("candidate", "words"),
    [
        (point(-50, temporality=0, monotonic=False), "a gauge"),
        (point(-1000, COST, monotonic=False), "a non-monotonic sum"),
        (point(5, COST, temporality=CUMULATIVE, monotonic=False), "a non-monotonic sum"),
    ],
    ids=["gauge-lines", "non-monotonic-cost", "non-monotonic-cumulative"],
)
def test_claude_code_counters_must_be_monotonic_sums(candidate: MetricPoint, words: str) -> None:
    problem = ValuePolicy().point_problem(candidate, NOW)
    assert problem is not None and words in problem and "Claude Code's counters are monotonic sums" in problem


def test_other_metrics_may_be_gauges_with_negative_values() -> None:
    assert ValuePolicy().point_problem(point(-3.5, "process.cpu.temperature", 0, False), NOW) is None


@pytest.mark.parametrize("metric", sorted(COUNTER_LIMITS))
def test_each_counter_is_bounded_per_point(metric: str) -> None:
    limit = COUNTER_LIMITS[metric]
    policy = ValuePolicy()
    assert policy.point_problem(point(limit, metric), NOW) is None
    assert "over the plausible maximum" in policy.point_problem(point(limit * 1.5, metric), NOW)
    assert "negative value" in policy.point_problem(point(-1, metric), NOW)
    assert "not finite" in policy.point_problem(point(math.nan, metric), NOW)
    assert "not finite" in policy.point_problem(point(-math.inf, metric), NOW)


def test_the_time_window_bounds_both_sides() -> None:
    policy = ValuePolicy(WINDOW)
    assert policy.point_problem(point(1, time_ns=NOW - 35 * DAY_NS), NOW) is None
    assert policy.point_problem(point(1, time_ns=NOW + HOUR_NS), NOW) is None
    for time_ns in (NOW - 35 * DAY_NS - 1, NOW + HOUR_NS + 1, NOW + 65_536 * DAY_NS):
        problem = policy.point_problem(point(1, time_ns=time_ns), NOW)
        assert problem == (
            "metric 'claude_code.lines_of_code.count': timeUnixNano is outside the accepted time window "
            "(at most 35 days old, at most 1 h ahead of arrival)"
        )
    event = LogEvent(NOW + 2 * HOUR_NS, "user_prompt", "claude_code.user_prompt", {"user.id": "u"}, {})
    assert "outside the accepted time window" in policy.event_problem(event, NOW)
    assert ValuePolicy().point_problem(point(1, time_ns=NOW + 65_536 * DAY_NS), NOW) is None  # no window set


def test_screen_refuses_once_and_adds_to_the_decoders_answer() -> None:
    good = point(4)
    bad = [point(-50, temporality=0, monotonic=False), point(2e9), point(1, time_ns=NOW + DAY_NS)]
    refused = batch(good, *bad)
    refused.rejected, refused.rejected_reason = 1, "metric 'h': histogram points are not supported"
    policy = ValuePolicy(WINDOW)
    assert policy.screen(refused) == 3
    assert refused.points == [good] and refused.rejected == 4
    assert refused.rejected_reason.split("; ") == [
        "metric 'h': histogram points are not supported",
        "metric 'claude_code.lines_of_code.count': a gauge, but Claude Code's counters are monotonic sums",
        "metric 'claude_code.lines_of_code.count': value over the plausible maximum of 1e+09",
        "metric 'claude_code.lines_of_code.count': timeUnixNano is outside the accepted time window "
        "(at most 35 days old, at most 1 h ahead of arrival)",
    ]
    # The pipeline processes a group again batch by batch after a failed write: nothing more is refused.
    assert policy.screen(refused) == 0 and refused.rejected == 4


@pytest.mark.parametrize(
    ("cost", "refused"),
    [("0.5", False), ("abc", False), ("-1000", True), ("inf", True), ("NaN", True), ("1e300", True)],
)
def test_events_with_impossible_numbers_are_refused(cost: str, refused: bool) -> None:
    event = LogEvent(NOW, "api_request", "claude_code.api_request", {"user.id": "u", "cost_usd": cost}, {})
    problem = ValuePolicy(WINDOW).event_problem(event, NOW)
    assert (problem is not None) == refused, problem
    if refused:
        assert problem.startswith("event 'api_request': cost_usd ")


@pytest.mark.parametrize(("sequence", "refused"), [("7", False), ("-3", True), ("1e30", True), ("9.3e18", True)])
def test_an_event_sequence_that_cannot_fit_is_refused(sequence: str, refused: bool) -> None:
    """Found by fuzzing: a sequence past Int64 failed the store's whole insert, and its sender retried forever."""
    event = LogEvent(NOW, "tool_result", "claude_code.tool_result", {"user.id": "u", "event.sequence": sequence}, {})
    problem = ValuePolicy(WINDOW).event_problem(event, NOW)
    assert (problem is not None) == refused, problem


def test_rows_never_carry_an_integer_the_column_cannot_hold() -> None:
    from exporters.clickhouse.rows import _integer

    assert [_integer(text) for text in ("12", "", "x", "1e30", str(2**63), str(-(2**63)))] == [12, 0, 0, 0, 0, -(2**63)]


def _chain(window: TimeWindow = WINDOW) -> ProcessorChain:
    return ProcessorChain(
        IdentityResolver(), CumulativeToDelta(), RequestDeduplicator(10**15), policy=ValuePolicy(window)
    )


def test_a_refused_cumulative_point_never_changes_the_series_state() -> None:
    """A far-future point would become the series' last point and make every later point look stale."""
    chain = _chain()
    start = NOW - 60 * 10**9
    far = batch(point(100, temporality=CUMULATIVE, time_ns=NOW + 30 * DAY_NS, start_ns=start), digest=b"far")
    group = chain.process([far])
    chain.commit(group)
    assert group.points == [] and far.rejected == 1
    deltas = []
    for offset, total in ((1, 10), (2, 15), (3, 4)):  # +10, +5, then a drop: a reset that counts 4, never -11
        later = batch(
            point(total, temporality=CUMULATIVE, time_ns=NOW + offset, start_ns=start), digest=bytes([offset])
        )
        group = chain.process([later])
        chain.commit(group)
        deltas += [fact.delta for fact in group.points]
    assert deltas == [10, 5, 4]


def test_poisoned_counters_leave_every_fact_non_negative() -> None:
    """accepts and rejects stay >= 0, so accepts / (accepts + rejects) stays within [0, 1]."""
    decision = "claude_code.code_edit_tool.decision"
    points = [
        point(3, decision, tool_name="Write", decision="accept"),
        point(-2, decision, monotonic=False, tool_name="Write", decision="reject"),
        point(-2, decision, temporality=0, monotonic=False, tool_name="Edit", decision="reject"),
        point(-5, "claude_code.session.count", monotonic=False, start_type="fresh"),
        point(-1000, COST, temporality=0, monotonic=False, model="m"),
    ]
    group = _chain().process([batch(*points)])
    assert [(fact.fact, fact.delta) for fact in group.points] == [("edit_accept", 3)]
