"""Claude Code's eight counters as cumulative Prometheus counters: Σ of the committed deltas per series.

The pipeline calls `on_commit` with the facts of every group it committed: each carries the delta its point
contributes, whatever temporality the client used, and a request delivered twice is committed once, so the
sums here are exact. Series live in memory: they restart from 0 when the collector restarts (Prometheus
counter semantics: `rate()` and `increase()` treat it as a reset).

Cardinality: a series' labels come from the allow-list (see names.labels_of); each counter keeps at most
`max_series_per_metric` series, the last slot reserved for the overflow series whose labels are all "other".
A point of a new label set beyond that is added to the overflow series and counted in
`cc_analytics_series_dropped_total{metric}`, so Σ over a counter stays exact. Series idle for
`series_ttl_seconds` are forgotten (a later point starts it again from 0, which Prometheus sees as a reset).

Events: `cc_analytics_events_total{event_name, success, …}` counts committed Claude Code events (API requests
and errors, tool results, …) under the same cap and expiry.

Rendering: `collect()` makes this a prometheus_client Collector; `render_text()` is the fast path of /metrics,
writing the text exposition from label strings built once per series (10 000 series in a few ms).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Sample

from exporters.prometheus.config import PrometheusExporterConfig
from exporters.prometheus.names import COUNTERS, labels_of
from exporters.prometheus.names import getter as label_getter
from pdata import EventFact, PointFact

OTHER = "other"
EVENTS = "cc_analytics_events_total"
# Labels of the events counter: the event's name and success (tool_result), plus these when allowed.
_EVENT_LABELS = ("organization_id", "team", "member", "model", "tool_name", "decision")
DROPPED = "cc_analytics_series_dropped_total"
SERIES = "cc_analytics_exporter_series"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class _Series:
    __slots__ = ("labels", "value", "last_seen", "prefix")

    def __init__(self, labels: dict[str, str], prefix: str, now: float) -> None:
        self.labels = labels
        self.value = 0.0
        self.last_seen = now
        self.prefix = prefix


class _Family:
    __slots__ = ("name", "help", "label_names", "getters", "series", "other_key", "dropped", "header")

    def __init__(self, name: str, help_text: str, label_names: tuple[str, ...], getters: tuple = ()) -> None:
        self.name = name
        self.help = help_text
        self.label_names = label_names
        self.getters = getters or tuple(label_getter(label) for label in label_names)
        self.series: dict[tuple[str, ...], _Series] = {}
        self.other_key = (OTHER,) * len(label_names)
        self.dropped = 0
        self.header = f"# HELP {name} {help_text}\n# TYPE {name} counter\n"

    def make_series(self, key: tuple[str, ...], now: float) -> _Series:
        labels = {name: value for name, value in zip(self.label_names, key, strict=True) if value}
        if labels:
            inner = ",".join(f'{name}="{_escape(value)}"' for name, value in labels.items())
            prefix = f"{self.name}{{{inner}}} "
        else:
            prefix = f"{self.name} "
        series = _Series(labels, prefix, now)
        self.series[key] = series
        return series


class ClaudeCodeCounters:
    """A prometheus_client Collector of Claude Code's counters, fed by the pipeline's commit listener."""

    def __init__(self, config: PrometheusExporterConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self._config = config
        self._clock = clock
        self._lock = threading.Lock()
        allowed = config.effective_labels
        self._families = {
            metric: _Family(name, help_text, labels_of(metric, allowed))
            for metric, (name, help_text) in COUNTERS.items()
        }
        self._point_families = dict(self._families)
        event_labels = ("event_name", *(label for label in allowed if label in _EVENT_LABELS), "success")
        self._events = _Family(
            EVENTS,
            "Claude Code events committed (OTel log records), by event name",
            event_labels,
            tuple(_event_getter(label) for label in event_labels),
        )
        self._families[EVENTS] = self._events
        self._cap = config.max_series_per_metric
        self._ttl = config.series_ttl_seconds
        self._sweep_every = min(self._ttl / 4, 60.0) if self._ttl else 0.0
        self._last_sweep = clock()

    # -- feeding --------------------------------------------------------------------------------------------

    def on_commit(self, points: Sequence[PointFact], events: Sequence[EventFact] = ()) -> None:
        """The pipeline's CommitListener: add each committed point's delta to its series, count events."""
        now = self._clock()
        families = self._point_families
        with self._lock:
            for fact in points:
                family = families.get(fact.point.metric)
                if family is None:
                    continue
                delta = fact.delta
                if not 0.0 <= delta < math.inf:  # a counter never goes down; NaN and ±Inf are refused too
                    continue
                self._add(family, tuple([get(fact) for get in family.getters]), delta, now)
            family = self._events
            for event in events:
                self._add(family, tuple([get(event) for get in family.getters]), 1.0, now)

    def _add(self, family: _Family, key: tuple[str, ...], delta: float, now: float) -> None:
        series = family.series.get(key)
        if series is None:
            regular = len(family.series) - (family.other_key in family.series)
            if regular < self._cap - 1:
                series = family.make_series(key, now)
            else:
                series = family.series.get(family.other_key) or family.make_series(family.other_key, now)
                family.dropped += 1
        series.value += delta
        series.last_seen = now

    __call__ = on_commit

    # -- expiry ---------------------------------------------------------------------------------------------

    def expire(self, now: float | None = None) -> int:
        """Forget series idle for longer than the TTL; returns how many were removed."""
        if not self._ttl:
            return 0
        now = self._clock() if now is None else now
        oldest = now - self._ttl
        removed = 0
        with self._lock:
            for family in self._families.values():
                stale = [key for key, series in family.series.items() if series.last_seen < oldest]
                for key in stale:
                    del family.series[key]
                removed += len(stale)
            self._last_sweep = now
        return removed

    def _maybe_expire(self) -> None:
        if self._ttl and self._clock() - self._last_sweep >= self._sweep_every:
            self.expire()

    # -- exposition -----------------------------------------------------------------------------------------

    def render_text(self) -> str:
        """Text exposition format 0.0.4 of the counters, the dropped-points counter and the series gauge."""
        self._maybe_expire()
        parts: list[str] = []
        dropped: list[str] = []
        sizes: list[str] = []
        with self._lock:
            for family in self._families.values():
                parts.append(family.header)
                parts.extend([f"{series.prefix}{series.value!r}\n" for series in family.series.values()])
                dropped.append(f'{DROPPED}{{metric="{family.name}"}} {float(family.dropped)!r}\n')
                sizes.append(f'{SERIES}{{metric="{family.name}"}} {float(len(family.series))!r}\n')
        parts.append(
            f"# HELP {DROPPED} Points of new label sets beyond the series cap, folded into the 'other' series\n"
        )
        parts.append(f"# TYPE {DROPPED} counter\n")
        parts.extend(dropped)
        parts.append(f"# HELP {SERIES} Series held per Claude Code counter (the cap includes the 'other' series)\n")
        parts.append(f"# TYPE {SERIES} gauge\n")
        parts.extend(sizes)
        return "".join(parts)

    def describe(self) -> Iterator[Metric]:
        for family in self._families.values():
            yield Metric(family.name.removesuffix("_total"), family.help, "counter")
        yield Metric(DROPPED.removesuffix("_total"), "Points folded into the 'other' series", "counter")
        yield Metric(SERIES, "Series held per Claude Code counter", "gauge")

    def collect(self) -> Iterator[Metric]:
        """The same figures as render_text, as prometheus_client metric families."""
        self._maybe_expire()
        dropped = Metric(DROPPED.removesuffix("_total"), "Points folded into the 'other' series", "counter")
        sizes = Metric(SERIES, "Series held per Claude Code counter", "gauge")
        families = []
        with self._lock:
            for family in self._families.values():
                metric = Metric(family.name.removesuffix("_total"), family.help, "counter")
                metric.samples = [
                    Sample(family.name, dict(series.labels), series.value, None, None)
                    for series in family.series.values()
                ]
                families.append(metric)
                dropped.add_sample(DROPPED, {"metric": family.name}, float(family.dropped))
                sizes.add_sample(SERIES, {"metric": family.name}, float(len(family.series)))
        yield from families
        yield dropped
        yield sizes

    # -- inspection (tests, benchmarks) ---------------------------------------------------------------------

    def series_count(self, name: str) -> int:
        with self._lock:
            return next(len(f.series) for f in self._families.values() if f.name == name)

    def dropped(self, name: str) -> int:
        with self._lock:
            return next(f.dropped for f in self._families.values() if f.name == name)

    def values(self, name: str) -> dict[frozenset[tuple[str, str]], float]:
        """{frozenset of (label, value): counter value} of one counter, by its Prometheus name."""
        with self._lock:
            family = next(f for f in self._families.values() if f.name == name)
            return {frozenset(series.labels.items()): series.value for series in family.series.values()}


def _event_getter(label: str):
    if label == "event_name":
        return lambda fact: fact.event.name
    if label == "organization_id":
        return lambda fact: fact.member.organization_id
    if label == "team":
        return lambda fact: fact.member.team
    if label == "member":
        return lambda fact: fact.member.member
    if label == "tool_name":
        return lambda fact: fact.tool_name
    return lambda fact: str(fact.attributes.get(label) or "")
