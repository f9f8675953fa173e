"""What a scrape of /metrics returns: the registry's families and the Claude Code counters, in one of two formats.

- Text format 0.0.4 (the default): no `_created` series (in 0.0.4 they would be separate gauges that nobody
  asked for and that double the series count).
- OpenMetrics 1.0.0, when the scraper's `Accept` asks for `application/openmetrics-text`: counters carry
  `_created`, the Unix time they started from 0.

Start-up hold: for `hold_seconds` after /metrics starts being served (`hold_from_now`), every counter and
histogram of the registry (the collector's self-metrics) is exposed at 0, so a scraper records the 0 before the
first increments of a fresh (or crashed and restarted) process and `increase()` counts them. Every label set of
those metrics is created at 0 when the collector starts (collector/selfmetrics.py), so no series appears later
holding a first increment. Samples carried over a graceful stop (carryover.py) are shown from their carried
value instead, also during the hold: their series go on from where the last process left them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from prometheus_client import CollectorRegistry
from prometheus_client import exposition as text_format
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import exposition as openmetrics_format
from prometheus_client.samples import Sample

from exporters.prometheus.carryover import CUMULATIVE_SUFFIXES, SampleKey, carried, sample_key, series_of

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = openmetrics_format.CONTENT_TYPE_LATEST

_CUMULATIVE_TYPES = frozenset({"counter", "histogram", "summary"})


class TextSource(Protocol):
    def render_text(self, openmetrics: bool = False) -> str: ...


class RegistryView:
    """A registry as a scrape sees it: cumulative samples at 0 during the start-up hold, `_created` optional."""

    def __init__(
        self,
        registry: CollectorRegistry,
        hold_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._registry = registry
        self._clock = clock
        self._hold_seconds = hold_seconds
        self._visible_at = clock() + hold_seconds
        self.with_created = False
        self.carried: dict[SampleKey, float] = {}
        self._carried_series: frozenset[SampleKey] = frozenset()

    def held(self) -> bool:
        return self._clock() < self._visible_at

    def hold_from_now(self) -> None:
        """Start the hold again: when /metrics starts being served, so a slow start cannot eat into it."""
        self._visible_at = self._clock() + self._hold_seconds

    def carry(self, values: dict[SampleKey, float]) -> None:
        """Show these cumulative samples from these values on (a graceful stop's, carryover.py)."""
        self.carried = values
        self._carried_series = series_of(values)

    def exposed_values(self) -> dict[SampleKey, float]:
        """The collector's cumulative samples as a scrape shows them now, for the next start to go on from."""
        unheld = self.viewed(with_created=False)
        unheld._visible_at = float("-inf")  # increments made during the hold count too
        return carried(unheld.collect())

    def collect(self) -> Iterator[Metric]:
        held = self.held()
        for metric in self._registry.collect():
            if metric.type not in _CUMULATIVE_TYPES or (self.with_created and not held and not self.carried):
                yield metric
                continue
            copy = Metric(metric.name, metric.documentation, metric.type, metric.unit)
            copy.samples = [self._shown(sample, held) for sample in metric.samples if self._keeps(sample)]
            yield copy

    def _shown(self, sample: Sample, held: bool) -> Sample:
        if not sample.name.endswith(CUMULATIVE_SUFFIXES):
            return sample
        base = self.carried.get(sample_key(sample.name, sample.labels), 0.0) if self.carried else 0.0
        return sample._replace(value=base if held else sample.value + base)

    def _keeps(self, sample: Sample) -> bool:
        if not sample.name.endswith("_created"):
            return True
        # A carried series did not start at this process's start: its _created would read as a reset to 0.
        return (
            self.with_created
            and sample_key(sample.name.removesuffix("_created"), sample.labels) not in self._carried_series
        )

    def viewed(self, with_created: bool) -> RegistryView:
        view = RegistryView(self._registry, 0.0, self._clock)
        view._visible_at = self._visible_at
        view.with_created = with_created
        view.carried, view._carried_series = self.carried, self._carried_series
        return view


def wants_openmetrics(accept: str) -> bool:
    return "application/openmetrics-text" in accept


def render(view: RegistryView, sources: Sequence[TextSource], openmetrics: bool = False) -> bytes:
    """The whole exposition: the registry's families, then each source's (the Claude Code counters)."""
    if not openmetrics:
        return (
            text_format.generate_latest(view.viewed(with_created=False))
            + "".join(source.render_text() for source in sources).encode()
        )
    registry_part = openmetrics_format.generate_latest(view.viewed(with_created=True))
    registry_part = registry_part.removesuffix(b"# EOF\n")
    counters_part = "".join(source.render_text(openmetrics=True) for source in sources)
    return registry_part + counters_part.encode() + b"# EOF\n"
