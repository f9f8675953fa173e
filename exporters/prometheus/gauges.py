"""Derived gauges: the console's figures over whole UTC days, read from the ClickHouse rollups with a short cache.

Each window `Nd` covers the last N UTC days, today included (1d = today so far), the same days the analytics
API answers for `start=today-(N-1)`, `end=today`. Gauges are global (every organization and team).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from exporters.prometheus.config import PrometheusExporterConfig
from pdata import vocabulary
from pdata.store import NamedQueries, StoreUnavailable

log = logging.getLogger("cc_analytics.exporter.prometheus")

# The code-editing tools of the acceptance rate; "all" is their overall ratio.
ALL_TOOLS = "all"

# (family name, help, column of gauge_totals.sql); every total is by window alone.
_TOTALS = tuple(
    (family.name, family.help, column)
    for family, column in (
        (vocabulary.ACTIVE_USERS, "active_users"),
        (vocabulary.SESSIONS, "sessions"),
        (vocabulary.SPEND_USD, "spend_usd"),
        (vocabulary.ACCEPTED_LINES, "accepted_lines"),
    )
)
_WINDOW_LABELS = list(vocabulary.ACTIVE_USERS.labels)
_RATIO = vocabulary.ACCEPTANCE_RATIO.name
_RATIO_HELP = vocabulary.ACCEPTANCE_RATIO.help
_RATIO_LABELS = list(vocabulary.ACCEPTANCE_RATIO.labels)


class DerivedGauges:
    """A prometheus_client Collector reading the rollups at most once per `gauge_cache_seconds`."""

    def __init__(
        self,
        store: NamedQueries,
        config: PrometheusExporterConfig,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._config = config
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._fetched_at: float | None = None
        self._totals: dict[str, dict[str, float]] = {}
        self._ratios: dict[tuple[str, str], float] = {}
        self.refreshes = 0
        self.errors = 0
        self.last_success_unix = 0.0

    def _parameters(self) -> dict[str, Any]:
        now = self._wall_clock().astimezone(UTC).replace(tzinfo=None)
        return {
            "now": now,
            "windows": [name for name, _ in self._config.windows],
            "days": [days for _, days in self._config.windows],
        }

    def refresh(self) -> None:
        """Read the figures now; on failure keep the previous ones and count the error."""
        parameters = self._parameters()
        try:
            total_rows = self._store.query_named("gauge_totals", parameters)
            tool_rows = self._store.query_named("gauge_acceptance_by_tool", parameters)
        except StoreUnavailable as exc:
            self.errors += 1
            log.warning("gauges.refresh_failed", extra={"fields": {"error": str(exc)}})
            return
        totals = {name: {"active_users": 0.0, "sessions": 0.0, "spend_usd": 0.0, "accepted_lines": 0.0}
                  for name, _ in self._config.windows}  # fmt: skip
        for row in total_rows:
            totals[row["window_name"]] = {key: float(row[key]) for _, _, key in _TOTALS}
        ratios: dict[tuple[str, str], float] = {}
        overall: dict[str, list[float]] = {}
        for row in tool_rows:
            accepts, rejects = float(row["accepts"]), float(row["rejects"])
            window = row["window_name"]
            sums = overall.setdefault(window, [0.0, 0.0])
            sums[0] += accepts
            sums[1] += rejects
            if accepts + rejects > 0:
                ratios[(str(row["tool_name"]), window)] = accepts / (accepts + rejects)
        for window, (accepts, rejects) in overall.items():
            if accepts + rejects > 0:
                ratios[(ALL_TOOLS, window)] = accepts / (accepts + rejects)
        self._totals, self._ratios = totals, ratios
        self.refreshes += 1
        self.last_success_unix = time.time()

    def _current(self) -> tuple[dict[str, dict[str, float]], dict[tuple[str, str], float]]:
        with self._lock:
            now = self._clock()
            if self._fetched_at is None or now - self._fetched_at >= self._config.gauge_cache_seconds:
                self.refresh()
                self._fetched_at = now  # after a failure too: a down store is not asked on every scrape
            return self._totals, self._ratios

    def describe(self) -> Iterator[Metric]:
        for name, help_text, _ in _TOTALS:
            yield GaugeMetricFamily(name, help_text, labels=_WINDOW_LABELS)
        yield GaugeMetricFamily(_RATIO, _RATIO_HELP, labels=_RATIO_LABELS)

    def collect(self) -> Iterator[Metric]:
        totals, ratios = self._current()
        for name, help_text, key in _TOTALS:
            family = GaugeMetricFamily(name, help_text, labels=_WINDOW_LABELS)
            for window, figures in totals.items():
                family.add_metric([window], figures[key])
            yield family
        family = GaugeMetricFamily(_RATIO, _RATIO_HELP, labels=_RATIO_LABELS)
        for (tool_name, window), ratio in sorted(ratios.items()):
            family.add_metric([tool_name, window], ratio)
        yield family
        errors = Metric(vocabulary.DERIVED_REFRESH_ERRORS.name, vocabulary.DERIVED_REFRESH_ERRORS.help, "counter")
        errors.add_sample(vocabulary.DERIVED_REFRESH_ERRORS.sample, {}, float(self.errors))
        yield errors
        stamp = vocabulary.DERIVED_REFRESH_TIMESTAMP
        yield GaugeMetricFamily(stamp.name, stamp.help, value=self.last_success_unix)
