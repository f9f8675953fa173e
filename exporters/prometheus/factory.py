from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from exporters.clickhouse import ClickHouseStore
from exporters.prometheus.config import PrometheusExporterConfig
from exporters.prometheus.counters import ClaudeCodeCounters
from exporters.prometheus.gauges import DerivedGauges
from exporters.prometheus.http import create_metrics_app, render
from pdata import EventFact, PointFact


@dataclass
class PrometheusExporter:
    """Counters fed by `on_commit` (give it to the pipeline as a listener), gauges, and the /metrics app."""

    config: PrometheusExporterConfig
    registry: CollectorRegistry
    counters: ClaudeCodeCounters
    gauges: DerivedGauges | None

    def on_commit(self, points: Sequence[PointFact], events: Sequence[EventFact]) -> None:
        self.counters.on_commit(points, events)

    def app(self):
        """ASGI app serving /metrics: the registry (self-metrics, gauges) and the counters."""
        return create_metrics_app(self.registry, [self.counters])

    def render(self) -> bytes:
        return render(self.registry, [self.counters])


def create_exporter(
    config: PrometheusExporterConfig,
    store: ClickHouseStore | None = None,
    registry: CollectorRegistry | None = None,
) -> PrometheusExporter:
    """Without a store there are no derived gauges. Other metrics of `registry` are served alongside."""
    registry = registry if registry is not None else CollectorRegistry()
    gauges = None
    if store is not None:
        gauges = DerivedGauges(store, config)
        registry.register(gauges)
    return PrometheusExporter(config, registry, ClaudeCodeCounters(config), gauges)
