from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from exporters.prometheus.carryover import CarryOverFile
from exporters.prometheus.config import PrometheusConfigError, PrometheusExporterConfig
from exporters.prometheus.counters import ClaudeCodeCounters
from exporters.prometheus.exposition import RegistryView, render
from exporters.prometheus.gauges import DerivedGauges
from exporters.prometheus.http import create_metrics_app
from exporters.prometheus.journal import SeriesJournal
from pdata import EventFact, PointFact
from pdata.store import NamedQueries


@dataclass
class PrometheusExporter:
    """Counters fed by `on_commit` (give it to the pipeline as a listener), gauges, and the /metrics app."""

    config: PrometheusExporterConfig
    registry: CollectorRegistry
    counters: ClaudeCodeCounters
    gauges: DerivedGauges | None
    view: RegistryView

    def on_commit(self, points: Sequence[PointFact], events: Sequence[EventFact]) -> None:
        self.counters.on_commit(points, events)

    def app(self) -> Any:
        """ASGI app serving /metrics: the registry (self-metrics, gauges) and the counters."""
        return create_metrics_app(self.view, [self.counters], read_scrape_token(self.config), self.config.openmetrics)

    def render(self, openmetrics: bool = False) -> bytes:
        return render(self.view, [self.counters], openmetrics)

    def close(self) -> None:
        """Once nothing more is counted: the counters' journal, and the collector's own counters for the next
        start to go on from."""
        self.counters.close()
        if self.config.self_metrics_carryover:
            CarryOverFile(Path(self.config.self_metrics_carryover)).save(self.view.exposed_values())


def read_scrape_token(config: PrometheusExporterConfig) -> str:
    """The token /metrics asks for ("" when none is configured)."""
    if not config.scrape_token_file:
        return ""
    try:
        token = Path(config.scrape_token_file).read_text().strip()
    except OSError as exc:
        raise PrometheusConfigError(
            f"metrics.scrape_token_file: cannot read {config.scrape_token_file}: {exc.strerror}"
        ) from None
    if not token:
        raise PrometheusConfigError(f"metrics.scrape_token_file: {config.scrape_token_file} is empty")
    return token


def create_exporter(
    config: PrometheusExporterConfig,
    store: NamedQueries | None = None,
    registry: CollectorRegistry | None = None,
) -> PrometheusExporter:
    """Without a store there are no derived gauges. Other metrics of `registry` are served alongside (held at 0
    during the start-up hold, like the counters)."""
    registry = registry if registry is not None else CollectorRegistry()
    gauges = None
    if store is not None:
        gauges = DerivedGauges(store, config)
        registry.register(gauges)
    journal = SeriesJournal(Path(config.series_journal)) if config.series_journal else None
    counters = ClaudeCodeCounters(config, journal=journal)
    view = RegistryView(registry, config.new_series_hold_seconds)
    if config.self_metrics_carryover:
        view.carry(CarryOverFile(Path(config.self_metrics_carryover)).take())
    return PrometheusExporter(config, registry, counters, gauges, view)
