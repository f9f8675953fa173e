"""Claude Code's eight counters as cumulative Prometheus counters: Σ of the committed deltas per series.

The pipeline calls `on_commit` with the facts of every group it committed: each carries the delta its point
contributes, whatever temporality the client used, and a request delivered twice is committed once, so the
sums here are exact.

Exact in PromQL too. `increase()` and `rate()` count from a series' first scraped sample, so a series first
scraped already holding its first increment loses it. Hence:
- **Hold**: a series new to this process (first point, return after expiry, restart) is exposed at 0 for
  `new_series_hold_seconds` before it shows its value, so every scraper whose interval is shorter than the
  hold (an HA pair at different phases included) records the 0 first. The series-dropped counter is held
  at 0 the same way after start-up.
- **Restart**: the label sets of the series are kept on disk (`journal.py`). After a crash they are exposed
  again at 0, which Prometheus reads as a reset, so the series stay continuous and nothing it scraped is
  lost. A graceful stop also writes the final values, and the next start goes on from them, so increments
  committed after the last scrape before the stop are not lost either.
- **Expiry**: a series idle for `series_ttl_seconds` (8 days by default: a long weekend keeps its series) is
  forgotten; if it comes back it starts from 0 and is held again, so the reset is seen.
- **OpenMetrics** (`render_text(openmetrics=True)`): each series also carries `_created`, the Unix time it
  started from 0, for scrapers that ingest created timestamps.

Cardinality: a series' labels come from the allow-list (see names.labels_of); each counter keeps at most
`max_series_per_metric` series, the last slot reserved for the overflow series whose labels are all "other".
A point of a new label set beyond that is added to the overflow series and counted in
`cc_analytics_series_dropped_total{metric}`, so Σ over a counter stays exact.

Events: `cc_analytics_events_total{event_name, success, status_class, …}` counts committed Claude Code events
(API requests and errors, tool results, …) under the same cap, hold and expiry.

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
from exporters.prometheus.journal import JournalRecord, SeriesJournal
from exporters.prometheus.names import COUNTERS, labels_of, member_getter
from exporters.prometheus.names import getter as label_getter
from pdata import EventFact, PointFact, vocabulary

OTHER = "other"
# This module's families by their sample names (counters end in _total), as the text exposition writes them.
EVENTS = vocabulary.EVENTS.sample
DROPPED = vocabulary.SERIES_DROPPED.sample
TRUNCATED = vocabulary.LABEL_VALUES_TRUNCATED.sample
SERIES = vocabulary.EXPORTER_SERIES.sample
# Labels of the events counter, in the row's order: the event's name first and success (tool_result) and the
# HTTP status class (api_error) last, always; between them those of the label policy that it allows.
_EVENT_FIRST = vocabulary.EVENTS.labels[:1]
_EVENT_LAST = vocabulary.EVENTS.labels[-2:]
_EVENT_LABELS = frozenset(vocabulary.EVENTS.labels) - {*_EVENT_FIRST, *_EVENT_LAST}
# How often the journal is rewritten to refresh its last-seen times (it is also rewritten when series expire).
_JOURNAL_REFRESH_SECONDS = 3600.0


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class _Series:
    __slots__ = ("labels", "value", "last_seen", "label_text", "visible_at", "created_unix")

    def __init__(self, labels: dict[str, str], label_text: str, now: float, visible_at: float, unix: float) -> None:
        self.labels = labels
        self.label_text = label_text
        self.value = 0.0
        self.last_seen = now
        self.visible_at = visible_at
        self.created_unix = unix

    def exposed(self, now: float) -> float:
        """The value a scrape sees: 0 while the series is held."""
        return self.value if now >= self.visible_at else 0.0


class _Family:
    __slots__ = ("name", "base", "help", "label_names", "getters", "series", "other_key", "dropped", "header")

    def __init__(self, name: str, help_text: str, label_names: tuple[str, ...], getters: tuple = ()) -> None:
        self.name = name
        self.base = name.removesuffix("_total")
        self.help = help_text
        self.label_names = label_names
        self.getters = getters or tuple(label_getter(label) for label in label_names)
        self.series: dict[tuple[str, ...], _Series] = {}
        self.other_key = (OTHER,) * len(label_names)
        self.dropped = 0
        self.header = f"# HELP {name} {help_text}\n# TYPE {name} counter\n"

    def make_series(self, key: tuple[str, ...], now: float, visible_at: float, unix: float) -> _Series:
        labels = {name: value for name, value in zip(self.label_names, key, strict=True) if value}
        inner = ",".join(f'{name}="{_escape(value)}"' for name, value in labels.items())
        series = _Series(labels, f"{{{inner}}}" if inner else "", now, visible_at, unix)
        self.series[key] = series
        return series


class ClaudeCodeCounters:
    """A prometheus_client Collector of Claude Code's counters, fed by the pipeline's commit listener."""

    def __init__(
        self,
        config: PrometheusExporterConfig,
        clock: Callable[[], float] = time.monotonic,
        journal: SeriesJournal | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        allowed = config.effective_labels
        self._families = {
            metric: _Family(name, help_text, labels_of(metric, allowed))
            for metric, (name, help_text) in COUNTERS.items()
        }
        self._point_families = dict(self._families)
        event_labels = (*_EVENT_FIRST, *(label for label in allowed if label in _EVENT_LABELS), *_EVENT_LAST)
        self._events = _Family(
            EVENTS, vocabulary.EVENTS.help, event_labels, tuple(_event_getter(label) for label in event_labels)
        )
        self._families[EVENTS] = self._events
        self._by_name = {family.name: family for family in self._families.values()}
        self._cap = config.max_series_per_metric
        self._max_label = config.max_label_value_length
        self._truncated = 0
        self._ttl = config.series_ttl_seconds
        self._hold = config.new_series_hold_seconds
        self._sweep_every = min(self._ttl / 4, 60.0) if self._ttl else 60.0
        started = clock()
        self._started_unix = wall_clock()
        self._last_sweep = started
        self._dropped_visible_at = started + self._hold
        self._journal = journal
        self._journal_written = started
        if journal is not None:
            self._restore(journal.load(), started)

    # -- feeding --------------------------------------------------------------------------------------------

    def on_commit(self, points: Sequence[PointFact], events: Sequence[EventFact] = ()) -> None:
        """The pipeline's CommitListener: add each committed point's delta to its series, count events."""
        now = self._clock()
        families = self._point_families
        created: list[tuple[_Family, tuple[str, ...]]] = []
        with self._lock:
            for fact in points:
                family = families.get(fact.point.metric)
                if family is None:
                    continue
                delta = fact.delta
                if not 0.0 <= delta < math.inf:  # a counter never goes down; NaN and ±Inf are refused too
                    continue
                self._add(family, self._capped(tuple([get(fact) for get in family.getters])), delta, now, created)
            family = self._events
            for event in events:
                self._add(family, self._capped(tuple([get(event) for get in family.getters])), 1.0, now, created)
            if created and self._journal is not None:
                unix = self._wall_clock()
                self._journal.append(JournalRecord(f.name, f.label_names, key, unix) for f, key in created)

    def _add(
        self,
        family: _Family,
        key: tuple[str, ...],
        delta: float,
        now: float,
        created: list[tuple[_Family, tuple[str, ...]]],
    ) -> None:
        series = family.series.get(key)
        if series is None:
            regular = len(family.series) - (family.other_key in family.series)
            if regular >= self._cap - 1:
                family.dropped += 1
                key = family.other_key
                series = family.series.get(key)
            if series is None:
                series = family.make_series(key, now, now + self._hold, self._wall_clock())
                created.append((family, key))
        series.value += delta
        series.last_seen = now

    __call__ = on_commit

    def _capped(self, key: tuple[str, ...]) -> tuple[str, ...]:
        """The label values cut to the configured length (values come from senders: unbounded otherwise)."""
        limit = self._max_label
        if max(map(len, key), default=0) <= limit:
            return key
        self._truncated += sum(len(value) > limit for value in key)
        return tuple(value[:limit] for value in key)

    # -- restart --------------------------------------------------------------------------------------------

    def _restore(self, records: list[JournalRecord], now: float) -> None:
        """Expose again the series the previous run had (those not idle past the TTL): with their final values
        after a graceful stop (held at 0 again if they still were), at 0 after a crash."""
        unix = self._wall_clock()
        for record in records:
            family = self._by_name.get(record.family)
            if family is None or record.label_names != family.label_names or record.key in family.series:
                continue
            idle = max(0.0, unix - record.last_seen_unix)
            if self._ttl and idle >= self._ttl:
                continue
            regular = len(family.series) - (family.other_key in family.series)
            if record.key != family.other_key and regular >= self._cap - 1:
                continue
            graceful = record.value is not None and record.value >= 0
            visible_at = now + self._hold if not graceful or record.held else now
            series = family.make_series(record.key, now, visible_at, unix)
            series.last_seen = now - idle
            if graceful:
                series.value = float(record.value or 0.0)
        self._rewrite_journal(now)  # values are good for this start only: a crash from here on restores at 0

    def _rewrite_journal(self, now: float, with_values: bool = False) -> None:
        if self._journal is None:
            return
        unix = self._wall_clock()
        self._journal.rewrite(
            JournalRecord(
                family.name,
                family.label_names,
                key,
                unix - (now - series.last_seen),
                series.value if with_values else None,
                with_values and now < series.visible_at,
            )
            for family in self._families.values()
            for key, series in family.series.items()
        )
        self._journal_written = now

    # -- expiry ---------------------------------------------------------------------------------------------

    def expire(self, now: float | None = None) -> int:
        """Forget series idle for longer than the TTL; returns how many were removed."""
        now = self._clock() if now is None else now
        removed = 0
        with self._lock:
            if self._ttl:
                oldest = now - self._ttl
                for family in self._families.values():
                    stale = [key for key, series in family.series.items() if series.last_seen < oldest]
                    for key in stale:
                        del family.series[key]
                    removed += len(stale)
            self._last_sweep = now
            if removed or now - self._journal_written >= _JOURNAL_REFRESH_SECONDS:
                self._rewrite_journal(now)
        return removed

    def _maybe_expire(self) -> None:
        if self._clock() - self._last_sweep >= self._sweep_every:
            self.expire()

    def close(self) -> None:
        """At a graceful stop, once nothing more can be committed: write the series with their final values."""
        with self._lock:
            self._rewrite_journal(self._clock(), with_values=True)
            if self._journal is not None:
                self._journal.close()

    # -- exposition -----------------------------------------------------------------------------------------

    def render_text(self, openmetrics: bool = False) -> str:
        """The counters, the dropped-points counter and the series gauge, in the text format 0.0.4 or, with
        `openmetrics`, as OpenMetrics families (with `_created`; the caller writes the final `# EOF`)."""
        self._maybe_expire()
        now = self._clock()
        parts: list[str] = []
        dropped: list[str] = []
        sizes: list[str] = []
        dropped_visible = now >= self._dropped_visible_at
        with self._lock:
            truncated = float(self._truncated) if dropped_visible else 0.0
            for family in self._families.values():
                name = family.name
                if openmetrics:
                    base = family.base
                    parts.append(f"# HELP {base} {family.help}\n# TYPE {base} counter\n")
                    for series in family.series.values():
                        labels = series.label_text
                        parts.append(f"{name}{labels} {series.exposed(now)!r}\n")
                        parts.append(f"{base}_created{labels} {series.created_unix!r}\n")
                else:
                    parts.append(family.header)
                    parts.extend(
                        [f"{name}{series.label_text} {series.exposed(now)!r}\n" for series in family.series.values()]
                    )
                count = float(family.dropped) if dropped_visible else 0.0
                dropped.append(f'{{metric="{name}"}} {count!r}\n')
                sizes.append(f'{SERIES}{{metric="{name}"}} {float(len(family.series))!r}\n')
        dropped_help = vocabulary.SERIES_DROPPED.help
        truncated_help = vocabulary.LABEL_VALUES_TRUNCATED.help
        if openmetrics:
            base = DROPPED.removesuffix("_total")
            parts.append(f"# HELP {base} {dropped_help}\n# TYPE {base} counter\n")
            for line in dropped:
                labels = line.split(" ", 1)[0]
                parts.append(f"{DROPPED}{line}{base}_created{labels} {self._started_unix!r}\n")
            base = TRUNCATED.removesuffix("_total")
            parts.append(f"# HELP {base} {truncated_help}\n# TYPE {base} counter\n")
            parts.append(f"{TRUNCATED} {truncated!r}\n{base}_created {self._started_unix!r}\n")
        else:
            parts.append(f"# HELP {DROPPED} {dropped_help}\n# TYPE {DROPPED} counter\n")
            parts.extend(f"{DROPPED}{line}" for line in dropped)
            parts.append(
                f"# HELP {TRUNCATED} {truncated_help}\n# TYPE {TRUNCATED} counter\n{TRUNCATED} {truncated!r}\n"
            )
        parts.append(f"# HELP {SERIES} {vocabulary.EXPORTER_SERIES.help}\n# TYPE {SERIES} gauge\n")
        parts.extend(sizes)
        return "".join(parts)

    def describe(self) -> Iterator[Metric]:
        for family in self._families.values():
            yield Metric(family.base, family.help, "counter")
        for row in (vocabulary.SERIES_DROPPED, vocabulary.LABEL_VALUES_TRUNCATED, vocabulary.EXPORTER_SERIES):
            yield Metric(row.name, row.help, row.type)

    def collect(self) -> Iterator[Metric]:
        """The same figures as render_text, as prometheus_client metric families."""
        self._maybe_expire()
        now = self._clock()
        dropped = Metric(vocabulary.SERIES_DROPPED.name, vocabulary.SERIES_DROPPED.help, "counter")
        sizes = Metric(vocabulary.EXPORTER_SERIES.name, vocabulary.EXPORTER_SERIES.help, "gauge")
        dropped_visible = now >= self._dropped_visible_at
        truncated = Metric(vocabulary.LABEL_VALUES_TRUNCATED.name, vocabulary.LABEL_VALUES_TRUNCATED.help, "counter")
        families = []
        with self._lock:
            truncated.add_sample(TRUNCATED, {}, float(self._truncated) if dropped_visible else 0.0)
            for family in self._families.values():
                metric = Metric(family.base, family.help, "counter")
                metric.samples = [
                    Sample(family.name, dict(series.labels), series.exposed(now), None, None)
                    for series in family.series.values()
                ]
                families.append(metric)
                count = float(family.dropped) if dropped_visible else 0.0
                dropped.add_sample(DROPPED, {"metric": family.name}, count)
                sizes.add_sample(SERIES, {"metric": family.name}, float(len(family.series)))
        yield from families
        yield dropped
        yield truncated
        yield sizes

    # -- inspection (tests, benchmarks) ---------------------------------------------------------------------

    def series_count(self, name: str) -> int:
        with self._lock:
            return len(self._by_name[name].series)

    def dropped(self, name: str) -> int:
        with self._lock:
            return self._by_name[name].dropped

    def values(self, name: str) -> dict[frozenset[tuple[str, str]], float]:
        """{frozenset of (label, value): counter value} of one counter, by its Prometheus name (never held)."""
        with self._lock:
            family = self._by_name[name]
            return {frozenset(series.labels.items()): series.value for series in family.series.values()}


def status_class(status_code: str) -> str:
    """api_error's HTTP status as a low-cardinality class: rate limited, server side, or anything else."""
    code = status_code.strip()
    if code == "429":
        return "429"
    if len(code) == 3 and code.startswith("5") and code.isdigit():
        return "5xx"
    return "other"


def _event_getter(label: str) -> Callable[[EventFact], str]:
    if label == "event_name":
        return lambda fact: fact.event.name
    shared = member_getter(label)
    if shared is not None:
        return shared
    if label == "status_class":
        return lambda fact: (
            status_class(str(fact.attributes.get("status_code") or "")) if fact.event.name == "api_error" else ""
        )
    return lambda fact: str(fact.attributes.get(label) or "")
