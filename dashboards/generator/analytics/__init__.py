"""The Claude Code Analytics dashboards (ClickHouse + Prometheus, and Prometheus only).

Prometheus aggregation: Claude Code's counters (`claude_code_*_total`, `cc_analytics_events_total`) hold what
each collector replica received, so several replicas are summed; the derived gauges (`cc_analytics_*` with a
`window`) are read by every replica from the one shared store, so each replica exposes the same figure and they
are read with `max`, never summed.

One module per group of rows: console_clickhouse.py and console_prometheus.py (the console's views),
members_sessions.py, events_clickhouse.py, usage_prometheus.py and events_prometheus.py; common.py holds what
they share and dashboards.py assembles the two dashboards.
"""

from __future__ import annotations

from generator.analytics.dashboards import analytics_dashboard, analytics_prometheus_dashboard

__all__ = ["analytics_dashboard", "analytics_prometheus_dashboard"]
