"""What a point or an event may claim, applied once to every batch before anything else looks at it.

The decoder already refuses what cannot be represented (no value, no time, NaN, ±Inf, past 2^53, negative on a
monotonic sum, a time after 2262). This policy refuses what cannot be true of Claude Code's telemetry:

- Claude Code's counters (`COUNTER_LIMITS`) arrive only as monotonic sums. The same names as a gauge or a
  non-monotonic sum could carry negative values into spend, lines, decisions and sessions: refused.
- A counter's point over its plausible maximum (e.g. more than 10^6 USD, 10^9 lines) is refused: one such
  value would dwarf every real figure.
- A point or event outside the accepted time window (older than `max_age_ns`, or more than `max_ahead_ns`
  ahead of its arrival) is refused: the daily rollups' Date would wrap a far-future time into today, a
  far-future cumulative point would make every later point of its series look stale, and a point older than
  the cumulative state's window would count again after a restart.
- An event whose known numeric field (`EVENT_NUMBER_LIMITS`: cost, tokens, durations) is negative, not finite
  or implausible is refused.

A refused point never reaches the cumulative converter, so it never changes a series' state; accepts and
rejects are never negative, so the acceptance rate stays within [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pdata import CUMULATIVE, DELTA, Batch, LogEvent, MetricPoint

# Claude Code's counters and the largest value one point (a delta, or a cumulative series' running total) may
# carry. Far above anything real (a session's tokens, a year of active time), far below what breaks a sum.
COUNTER_LIMITS: dict[str, float] = {
    "claude_code.session.count": 1e6,
    "claude_code.lines_of_code.count": 1e9,
    "claude_code.pull_request.count": 1e6,
    "claude_code.commit.count": 1e6,
    "claude_code.cost.usage": 1e6,
    "claude_code.token.usage": 1e12,
    "claude_code.code_edit_tool.decision": 1e6,
    "claude_code.active_time.total": 1e8,
}

# Numeric attributes of events (sent as numbers or as text) and their plausible maximum per event.
EVENT_NUMBER_LIMITS: dict[str, float] = {
    "cost_usd": 1e6,
    "cost_usd_micros": 1e12,
    "duration_ms": 1e10,
    "ttft_ms": 1e10,
    "input_tokens": 1e10,
    "output_tokens": 1e10,
    "cache_read_tokens": 1e10,
    "cache_creation_tokens": 1e10,
    "tool_input_size_bytes": 1e12,
    "tool_result_size_bytes": 1e12,
    "prompt_length": 1e10,
    "event.sequence": 1e15,  # per session; stored as Int64
}

_EVENT_NUMBER_KEYS = frozenset(EVENT_NUMBER_LIMITS)

# Reasons name the metric or event and the rule, never the value or time, so that a batch of bad points gives
# one line per kind of problem. These fragments of them are what collector/selfmetrics.py labels.
WRONG_TYPE = "Claude Code's counters are monotonic sums"
IMPLAUSIBLE = "over the plausible maximum"
OUT_OF_WINDOW = "outside the accepted time window"

T = TypeVar("T")
_NS_PER_S = 1_000_000_000
_MAX_REASON_KINDS = 5


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """How far a point's or event's own time may lie from its arrival; None: unbounded on that side."""

    max_age_ns: int | None = None
    max_ahead_ns: int | None = None

    def describe(self) -> str:
        parts = []
        if self.max_age_ns is not None:
            parts.append(f"at most {_duration(self.max_age_ns)} old")
        if self.max_ahead_ns is not None:
            parts.append(f"at most {_duration(self.max_ahead_ns)} ahead of arrival")
        return ", ".join(parts)


class ValuePolicy:
    def __init__(self, window: TimeWindow | None = None) -> None:
        self.window = window or TimeWindow()
        self._window_text = self.window.describe()

    def screen(self, batch: Batch) -> int:
        """Remove the points and events this policy refuses from `batch`, adding them to its rejected count and
        reason (what the receiver answers as OTLP partial success); returns how many were refused.

        Idempotent: what is refused leaves the batch, so processing a batch again (the pipeline retries a group
        batch by batch) refuses nothing more."""
        received_ns = batch.received_ns
        reasons: list[str] = []
        if batch.points:
            batch.points = _kept(batch.points, lambda point: self.point_problem(point, received_ns), reasons)
        if batch.events:
            batch.events = _kept(batch.events, lambda event: self.event_problem(event, received_ns), reasons)
        if reasons:
            batch.rejected += len(reasons)
            batch.rejected_reason = "; ".join(part for part in (batch.rejected_reason, _summarise(reasons)) if part)
        return len(reasons)

    def point_problem(self, point: MetricPoint, received_ns: int) -> str | None:
        """Why this point cannot be true, or None."""
        limit = COUNTER_LIMITS.get(point.metric)
        if limit is not None:
            problem = _counter_problem(point, limit)
            if problem is not None:
                return f"metric {point.metric!r}: {problem}"
        if not self._in_window(point.time_ns, received_ns):
            return f"metric {point.metric!r}: timeUnixNano {self._out_of_window()}"
        return None

    def event_problem(self, event: LogEvent, received_ns: int) -> str | None:
        """Why this event cannot be true, or None."""
        attributes = event.attributes
        for key, text in attributes.items():
            if key in _EVENT_NUMBER_KEYS and text:
                problem = _number_problem(text, EVENT_NUMBER_LIMITS[key])
                if problem is not None:
                    return f"event {event.name!r}: {key} {problem}"
        if not self._in_window(event.time_ns, received_ns):
            return f"event {event.name!r}: time {self._out_of_window()}"
        return None

    def _in_window(self, time_ns: int, received_ns: int) -> bool:
        window = self.window
        if window.max_age_ns is not None and time_ns < received_ns - window.max_age_ns:
            return False
        return window.max_ahead_ns is None or time_ns <= received_ns + window.max_ahead_ns

    def _out_of_window(self) -> str:
        return f"is {OUT_OF_WINDOW} ({self._window_text})"


def _kept(items: list[T], problem_of: Callable[[T], str | None], reasons: list[str]) -> list[T]:
    """`items` without those that have a problem (the same list when none has); their problems go to `reasons`."""
    kept = []
    for item in items:
        problem = problem_of(item)
        if problem is None:
            kept.append(item)
        else:
            reasons.append(problem)
    return items if len(kept) == len(items) else kept


def _counter_problem(point: MetricPoint, limit: float) -> str | None:
    if not point.monotonic or point.temporality not in (DELTA, CUMULATIVE):
        kind = "a gauge" if point.temporality not in (DELTA, CUMULATIVE) else "a non-monotonic sum"
        return f"{kind}, but {WRONG_TYPE}"
    return _range_problem(point.value, limit, "negative value on a monotonic sum")


def _number_problem(text: str, limit: float) -> str | None:
    try:
        number = float(text)
    except ValueError:
        return None  # not a number: stored as text, counted as 0 by the store
    return _range_problem(number, limit, "has a negative value")


def _range_problem(value: float, limit: float, negative: str) -> str | None:
    """What is wrong with a count or an amount: not finite, below zero (`negative` says so), or over `limit`."""
    if not math.isfinite(value):
        return "value is not finite"
    if value < 0:
        return negative
    if value > limit:
        return f"value {IMPLAUSIBLE} of {limit:g}"
    return None


def _duration(ns: int) -> str:
    seconds = ns // _NS_PER_S
    if seconds and seconds % 86_400 == 0:
        return f"{seconds // 86_400} days"
    if seconds and seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds} s"


def _summarise(reasons: list[str]) -> str:
    unique = list(dict.fromkeys(reasons))
    text = "; ".join(unique[:_MAX_REASON_KINDS])
    if len(unique) > _MAX_REASON_KINDS:
        text += f"; and {len(unique) - _MAX_REASON_KINDS} more kinds"
    return text
