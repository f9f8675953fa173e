"""Prometheus exporter: Claude Code's counters as cumulative counters, derived gauges, the /metrics app."""

from exporters.prometheus.config import DEFAULT_LABELS, PrometheusConfigError, PrometheusExporterConfig
from exporters.prometheus.counters import ClaudeCodeCounters
from exporters.prometheus.factory import PrometheusExporter, create_exporter
from exporters.prometheus.gauges import DerivedGauges

__all__ = [
    "DEFAULT_LABELS",
    "ClaudeCodeCounters",
    "DerivedGauges",
    "PrometheusConfigError",
    "PrometheusExporter",
    "PrometheusExporterConfig",
    "create_exporter",
]
