"""API requests, errors, latency and tool results from ClickHouse: the counts from their five-minute rollup
(event_calls_5m), the latency from its own (api_latency_5m), the most recent failures from
the events table (never their messages or parameters)."""

from __future__ import annotations

from typing import Any

from generator.analytics.common import (
    API_ERROR_COLOURS,
    EVENT_ROWS,
    FIVE_MINUTES,
    LATENCY_PERCENTILES,
    api_latency_filter,
)
from generator.analytics.events_prometheus import api_errors_by_status, mcp_tool_calls, tool_calls
from generator.grafana import COUNT, MILLISECONDS, PERCENT, TIMESTAMP, Layout, bar_series, ch, panel, ratio_stat
from generator.vocabulary import SQL_MODEL, SQL_ORG, SQL_TEAM

# --- Claude Code Analytics: API and tools from the events table (ClickHouse) ----------------------------------

EVENTS_FILTER = f"$__timeFilter(events.time)\n  AND {SQL_ORG}\n  AND {SQL_TEAM}"
# The counts are read from event_calls_5m (migration 0013), keyed by the start of each five minutes (UTC): a range
# that starts mid-bucket keeps its first, as the hourly rollups keep their first hour.
CALLS_FILTER = f"{FIVE_MINUTES}\n  AND {SQL_ORG}\n  AND {SQL_TEAM}"


def api_requests_clickhouse() -> dict[str, Any]:
    return bar_series(
        "API requests and errors",
        [
            ch(
                f"""
SELECT $__timeInterval(bucket) AS time,
       sumIf(events, event_name = 'api_request') AS "API requests",
       sumIf(events, event_name = 'api_error') AS "API errors"
FROM event_calls_5m
WHERE {CALLS_FILTER}
  AND {SQL_MODEL}
  AND event_name IN ('api_request', 'api_error')
GROUP BY time
ORDER BY time"""
            )
        ],
        "Claude Code's api_request and api_error events per interval, counted per five minutes.",
        right=["API errors"],
        interval="5m",
    )


def api_error_ratio_clickhouse() -> dict[str, Any]:
    return ratio_stat(
        "API error ratio",
        f"""
SELECT sumIf(events, event_name = 'api_error') AS "API errors",
       sumIf(events, event_name = 'api_request') AS "API requests",
       if(sum(events) = 0, NULL, sumIf(events, event_name = 'api_error') / sum(events)) AS "API error ratio"
FROM event_calls_5m
WHERE {CALLS_FILTER}
  AND {SQL_MODEL}
  AND event_name IN ('api_request', 'api_error')""",
        "api_error events / (api_request + api_error events) over the time range, in whole five minutes. Amber "
        "from 1 %, red from the alert's threshold.",
        API_ERROR_COLOURS,
    )


def api_latency_clickhouse() -> dict[str, Any]:
    return panel(
        "timeseries",
        "API latency",
        [
            ch(
                f"""
SELECT $__timeInterval(bucket) AS time,
       sum(total_duration_ms) / sum(requests) AS "Mean (ms)",
       {LATENCY_PERCENTILES}[2] AS "p95 (ms)",
       max(max_duration_ms) AS "Max (ms)"
FROM api_latency_5m
WHERE {api_latency_filter(FIVE_MINUTES)}
GROUP BY time
ORDER BY time"""
            )
        ],
        "duration_ms of api_request events per interval, in whole five minutes: the mean and the maximum exact, "
        "the 95th percentile within 1 % (from a DDSketch per five minutes).",
        unit=MILLISECONDS,
        interval="5m",
    )


def tool_success_clickhouse() -> dict[str, Any]:
    return panel(
        "table",
        "Tool success rate",
        [
            ch(
                f"""
SELECT tool_name AS "Tool",
       sum(events) AS "Results",
       sum(succeeded) AS "Succeeded",
       sum(succeeded) / sum(events) AS "Success rate",
       sum(duration_ms) / sum(events) AS "Mean duration"
FROM event_calls_5m
WHERE {CALLS_FILTER}
  AND event_name = 'tool_result'
GROUP BY tool_name
ORDER BY tool_name""",
                table=True,
            )
        ],
        "tool_result events per tool (MCP tools as mcp__<server>__<tool>) over the time range, in whole five "
        "minutes: how many succeeded, mean duration.",
        defaults={"custom": {"align": "auto"}},
        units={"Results": COUNT, "Succeeded": COUNT, "Success rate": PERCENT, "Mean duration": MILLISECONDS},
    )


def recent_api_errors() -> dict[str, Any]:
    # The error text is left out: it may quote the request.
    return panel(
        "table",
        "Recent API errors",
        [
            ch(
                f"""
SELECT events.time AS "Time",
       member AS "Member",
       session_id AS "Session",
       model AS "Model",
       attributes['status_code'] AS "Status",
       attributes['attempt'] AS "Attempt",
       duration_ms AS "Duration"
FROM events
WHERE {EVENTS_FILTER}
  AND {SQL_MODEL}
  AND event_name = 'api_error'
ORDER BY events.time DESC, sequence DESC
LIMIT {EVENT_ROWS}""",
                table=True,
            )
        ],
        f"The last {EVENT_ROWS} api_error events, newest first: who, which session and model, the HTTP status, "
        "the attempt and how long the call took. The error message is not shown.",
        defaults={"custom": {"align": "auto", "filterable": True}},
        units={"Time": TIMESTAMP, "Duration": MILLISECONDS},
    )


def recent_tool_failures() -> dict[str, Any]:
    # Tool parameters and error text are left out: they quote commands, paths and file contents.
    return panel(
        "table",
        "Recent tool failures",
        [
            ch(
                f"""
SELECT events.time AS "Time",
       member AS "Member",
       session_id AS "Session",
       tool_name AS "Tool",
       attributes['error_type'] AS "Error type",
       attributes['decision_type'] AS "Decision",
       duration_ms AS "Duration"
FROM events
WHERE {EVENTS_FILTER}
  AND event_name = 'tool_result'
  AND success = 'false'
ORDER BY events.time DESC, sequence DESC
LIMIT {EVENT_ROWS}""",
                table=True,
            )
        ],
        f"The last {EVENT_ROWS} tool_result events with success=false, newest first: who, which session and tool, "
        "the error type and how long it ran. Tool parameters and error messages are not shown.",
        defaults={"custom": {"align": "auto", "filterable": True}},
        units={"Time": TIMESTAMP, "Duration": MILLISECONDS},
    )


def events_panels_clickhouse(layout: Layout) -> list[dict[str, Any]]:
    """API and tool health: exact from the events and their five-minute counts, with status classes and tool calls
    from Prometheus."""
    return [
        layout.row("API and tools (ClickHouse events, Prometheus events counter)"),
        layout.place(api_requests_clickhouse(), 8, 8),
        layout.place(api_error_ratio_clickhouse(), 4, 8),
        layout.place(api_latency_clickhouse(), 12, 8),
        layout.place(api_errors_by_status(), 12, 8),
        layout.place(recent_api_errors(), 12, 8),
        layout.place(tool_calls(), 12, 8),
        layout.place(mcp_tool_calls(), 12, 8),
        layout.place(tool_success_clickhouse(), 12, 8),
        layout.place(recent_tool_failures(), 12, 8),
    ]
