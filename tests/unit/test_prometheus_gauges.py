"""Derived gauges: figures from the rollup queries, a short cache, failures keep the last figures."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from exporters.clickhouse import StoreUnavailable
from exporters.prometheus import DerivedGauges, PrometheusExporterConfig, create_exporter
from tests.unit.test_prometheus_selfmetrics import scrape


class FakeStore:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.fail = False
        self.spend = 0.875

    def query_named(self, name: str, parameters: dict) -> list[dict]:
        self.calls.append((name, parameters))
        if self.fail:
            raise StoreUnavailable("down")
        if name == "gauge_totals":
            return [
                {"window_name": "1d", "active_users": 4, "sessions": 5, "spend_usd": self.spend, "accepted_lines": 23.0,
                 "accepts": 6.0, "rejects": 2.0},
            ]  # fmt: skip
        return [
            {"window_name": "1d", "tool_name": "Edit", "accepts": 2.0, "rejects": 1.0},
            {"window_name": "1d", "tool_name": "Write", "accepts": 3.0, "rejects": 0.0},
            {"window_name": "7d", "tool_name": "Edit", "accepts": 0.0, "rejects": 0.0},
        ]


def figures(gauges: DerivedGauges) -> dict[tuple[str, frozenset], float]:
    registry = CollectorRegistry()
    registry.register(gauges)
    return scrape(registry)


def test_figures_per_window_and_ratio_per_tool() -> None:
    store = FakeStore()
    gauges = DerivedGauges(
        store, PrometheusExporterConfig(), wall_clock=lambda: datetime(2026, 11, 25, 13, 5, tzinfo=UTC)
    )
    got = figures(gauges)
    assert got[("cc_analytics_active_users", frozenset({("window", "1d")}))] == 4
    assert got[("cc_analytics_sessions", frozenset({("window", "1d")}))] == 5
    assert got[("cc_analytics_spend_usd", frozenset({("window", "1d")}))] == 0.875
    assert got[("cc_analytics_accepted_lines", frozenset({("window", "1d")}))] == 23
    # Windows without activity read 0; a ratio without decisions is left out (undefined), never 0.
    assert got[("cc_analytics_active_users", frozenset({("window", "30d")}))] == 0
    ratios = {dict(labels)["tool_name"] + "/" + dict(labels)["window"]: v
              for (name, labels), v in got.items() if name == "cc_analytics_acceptance_ratio"}  # fmt: skip
    assert ratios == {"Edit/1d": 2 / 3, "Write/1d": 1.0, "all/1d": 5 / 6}
    name, parameters = store.calls[0]
    assert name == "gauge_totals"
    assert parameters == {"now": datetime(2026, 11, 25, 13, 5), "windows": ["1d", "7d", "30d"], "days": [1, 7, 30]}


def test_the_cache_limits_reads_and_a_failure_keeps_the_last_figures() -> None:
    store = FakeStore()
    now = [0.0]
    gauges = DerivedGauges(store, PrometheusExporterConfig(gauge_cache_seconds=15), clock=lambda: now[0])
    figures(gauges)
    figures(gauges)
    assert len(store.calls) == 2  # one refresh: two queries
    store.spend = 2.0
    now[0] = 16
    assert figures(gauges)[("cc_analytics_spend_usd", frozenset({("window", "1d")}))] == 2.0
    store.fail = True
    now[0] = 40
    got = figures(gauges)
    assert got[("cc_analytics_spend_usd", frozenset({("window", "1d")}))] == 2.0
    assert got[("cc_analytics_derived_refresh_errors_total", frozenset())] == 1
    assert gauges.errors == 1


def test_registering_does_not_read_the_store() -> None:
    store = FakeStore()
    exporter = create_exporter(PrometheusExporterConfig(), store, CollectorRegistry())
    assert exporter.gauges is not None and store.calls == []
