"""Claude Code's events as the collector counts them in Prometheus: API requests and errors, tool calls, MCP
tools and tool success."""

from __future__ import annotations

from typing import Any

from generator.analytics.common import API_ERROR_COLOURS, MCP_TOOLS, TOOL_SUCCESS_COLOURS
from generator.grafana import PERCENT, Layout, bar_series, panel, prom, prom_targets
from generator.vocabulary import API_EVENTS, MODEL, ORG, TEAM, sel

# --- Prometheus: Claude Code's events counted by the collector ------------------------------------------------


def events_selector(*matchers: str) -> str:
    return sel(API_EVENTS, ORG, TEAM, *matchers)


API_REQUESTS = events_selector('event_name="api_request"', MODEL)
API_ERRORS = events_selector('event_name="api_error"', MODEL)
TOOL_RESULTS = events_selector('event_name="tool_result"')


def api_requests_prometheus() -> dict[str, Any]:
    return bar_series(
        "API requests and errors",
        prom_targets(
            (f"sum(increase({API_REQUESTS}[$__interval]))", "API requests"),
            (f"sum(increase({API_ERRORS}[$__interval]))", "API errors"),
        ),
        f"Claude Code's api_request and api_error events per interval ({API_EVENTS}).",
        right=["API errors"],
        interval="5m",
    )


def api_error_ratio_prometheus() -> dict[str, Any]:
    errors = f"(sum(increase({API_ERRORS}[$__range])) or vector(0))"
    return panel(
        "stat",
        "API error ratio",
        [prom(f"{errors}\n/\n({errors} + sum(increase({API_REQUESTS}[$__range])))", "API error ratio", instant=True)],
        "api_error events / (api_request + api_error events) over the time range. Amber from 1 %, red from the "
        "alert's threshold.",
        unit=PERCENT,
        thresholds=API_ERROR_COLOURS,
    )


def api_errors_by_status() -> dict[str, Any]:
    return bar_series(
        "API errors by status class",
        [prom(f"sum by (status_class) (increase({API_ERRORS}[$__interval]))", "{{status_class}}")],
        "api_error events per interval by HTTP status: 429 (rate limited: usage limits, too many clients on one "
        "key), 5xx (the API or a proxy failing, 529 overloaded included), other (4xx: bad requests, auth, "
        "network errors without a status).",
        interval="5m",
    )


def tool_calls() -> dict[str, Any]:
    return bar_series(
        "Tool calls by tool",
        [prom(f"sum by (tool_name) (increase({TOOL_RESULTS}[$__interval]))", "{{tool_name}}")],
        "tool_result events per tool and interval: built-in tools (Bash, Edit, Read, …) and MCP tools.",
        interval="5m",
    )


def mcp_tool_calls() -> dict[str, Any]:
    mcp = events_selector('event_name="tool_result"', f'tool_name=~"{MCP_TOOLS}"')
    return bar_series(
        "MCP tool calls",
        [prom(f"sum by (tool_name) (increase({mcp}[$__interval]))", "{{tool_name}}")],
        "tool_result events of MCP tools (mcp__<server>__<tool>; `mcp_tool` when Claude Code does not log tool "
        "details) per interval.",
        interval="5m",
    )


def tool_success_prometheus() -> dict[str, Any]:
    succeeded = events_selector('event_name="tool_result"', 'success="true"')
    results = f"sum by (tool_name) (increase({TOOL_RESULTS}[$__range]))"
    # Tools that never succeeded have no success="true" series: `or 0 * …` keeps them at 0.
    expr = f"(\n  sum by (tool_name) (increase({succeeded}[$__range]))\n  or\n  0 * {results}\n)\n/\n{results}"
    return panel(
        "bargauge",
        "Tool success rate",
        [prom(expr, "{{tool_name}}", instant=True)],
        "Share of tool_result events with success=true per tool over the time range. Red below 80 %, amber below 95 %.",
        unit=PERCENT,
        defaults={"min": 0, "max": 1},
        thresholds=TOOL_SUCCESS_COLOURS,
    )


def events_panels_prometheus(layout: Layout) -> list[dict[str, Any]]:
    return [
        layout.row("API and tools (Prometheus events counter)"),
        layout.place(api_requests_prometheus(), 9, 8),
        layout.place(api_error_ratio_prometheus(), 3, 8),
        layout.place(api_errors_by_status(), 12, 8),
        layout.place(tool_calls(), 12, 8),
        layout.place(mcp_tool_calls(), 12, 8),
        layout.place(tool_success_prometheus(), 24, 7),
    ]
