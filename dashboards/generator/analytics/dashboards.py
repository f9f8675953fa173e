"""The two analytics dashboards assembled from their rows, with their variables and alert list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from generator.analytics.console_clickhouse import console_panels_clickhouse
from generator.analytics.console_prometheus import console_panels_prometheus
from generator.analytics.events_clickhouse import events_panels_clickhouse
from generator.analytics.events_prometheus import events_panels_prometheus
from generator.analytics.members_sessions import members_panels, sessions_and_models_panels
from generator.analytics.usage_prometheus import usage_panels
from generator.grafana import (
    Layout,
    alert_list,
    ch_variable,
    dashboard,
    datasource_variable,
    prom_variable,
    window_variable,
)
from generator.vocabulary import COST, DAYS, EDGE_HOURS, HOURS, SESSIONS

# --- variables and dashboards ---------------------------------------------------------------------------------


def _seen_in_range(column: str) -> str:
    """The non-empty values of `column` in the time range: the daily rollup for whole days, the hourly one for
    the partial days at its edges."""
    return f"""
SELECT DISTINCT toString({column}) FROM (
    SELECT {column} FROM team_daily WHERE {DAYS}
    UNION ALL
    SELECT {column} FROM member_hourly WHERE {EDGE_HOURS}
)
WHERE {column} != ''
ORDER BY 1"""


def analytics_variables_clickhouse() -> list[dict[str, Any]]:
    return [
        datasource_variable("prometheus", "Prometheus"),
        datasource_variable("clickhouse", "ClickHouse"),
        ch_variable("organization", "Organization", _seen_in_range("organization_id")),
        ch_variable("team", "Team", _seen_in_range("team")),
        ch_variable(
            "model",
            "Model",
            f"""
SELECT DISTINCT toString(model) FROM model_usage_hourly
WHERE {HOURS} AND model != ''
ORDER BY 1""",
        ),
    ]


def analytics_variables_prometheus() -> list[dict[str, Any]]:
    return [
        datasource_variable("prometheus", "Prometheus"),
        prom_variable("organization", "Organization", f"label_values({SESSIONS}, organization_id)"),
        prom_variable("team", "Team", f"label_values({COST}, team)"),
        prom_variable("model", "Model", f"label_values({COST}, model)"),
        window_variable(),
    ]


def claude_code_alerts() -> dict[str, Any]:
    return alert_list(
        "Claude Code alerts",
        "Firing and pending ClaudeCode* alerts (spend, acceptance, API errors): see dashboards/README.md for what "
        "each means and what to do.",
        "ClaudeCode",
    )


def _analytics_board(
    uid: str,
    title: str,
    description: str,
    rows: tuple[Callable[[Layout], list[dict[str, Any]]], ...],
    variables: list[dict[str, Any]],
    tags: tuple[str, ...],
) -> dict[str, Any]:
    """An analytics dashboard: each group of rows placed in turn, then the list of Claude Code's alerts."""
    layout = Layout()
    panels = [placed for row in rows for placed in row(layout)]
    panels += [layout.row("Alerts"), layout.place(claude_code_alerts(), 24, 6)]
    return dashboard(uid, title, description, panels, variables, tags=tags)


def analytics_dashboard() -> dict[str, Any]:
    return _analytics_board(
        "cc-analytics",
        "Claude Code Analytics",
        "Claude Code usage: the console's views (accepted lines, acceptance rate, activity, spend, team insights) "
        "exact from the ClickHouse rollups, usage counters from Prometheus, API and tool health from the events, "
        "models and sessions from the raw points.",
        (
            console_panels_clickhouse,
            usage_panels,
            events_panels_clickhouse,
            sessions_and_models_panels,
            members_panels,
        ),
        analytics_variables_clickhouse(),
        ("clickhouse", "prometheus"),
    )


def analytics_prometheus_dashboard() -> dict[str, Any]:
    return _analytics_board(
        "cc-analytics-prometheus",
        "Claude Code Analytics (Prometheus only)",
        "The Claude Code Analytics views from Prometheus alone, for collectors on the embedded store that Grafana "
        "cannot reach. Window figures come from the collector's derived gauges, the rest from Claude Code's "
        "counters and the collector's events counter.",
        (console_panels_prometheus, usage_panels, events_panels_prometheus),
        analytics_variables_prometheus(),
        ("prometheus",),
    )
