"""The Claude Code Analytics dashboards (ClickHouse + Prometheus, and Prometheus only).

Prometheus aggregation: Claude Code's counters (`claude_code_*_total`, `cc_analytics_events_total`) hold what
each collector replica received, so several replicas are summed; the derived gauges (`cc_analytics_*` with a
`window`) are read by every replica from the one shared store, so each replica exposes the same figure and they
are read with `max`, never summed.
"""

from __future__ import annotations

from typing import Any

from generator.grafana import (
    COUNT,
    MILLISECONDS,
    PERCENT,
    TIMESTAMP,
    USD,
    Layout,
    alert_list,
    ch,
    ch_variable,
    dashboard,
    datasource_variable,
    default_options,
    higher_is_better,
    lower_is_better,
    panel,
    prom,
    prom_variable,
    stat_of,
    window_variable,
)
from generator.vocabulary import (
    ACCEPTANCE_GAUGE,
    ACCEPTED_LINES_GAUGE,
    ACTIVE_TIME,
    ACTIVE_USERS_GAUGE,
    API_EVENTS,
    COMMITS,
    COST,
    DAY_START,
    DAYS,
    DECISIONS,
    EDGE_HOURS,
    EDIT_TOOLS,
    HOURS,
    LINES,
    MODEL,
    MONTH_DAYS,
    MONTH_EDGE_HOURS,
    ORG,
    PULL_REQUESTS,
    SERIES_DAYS,
    SERIES_EDGE_HOURS,
    SESSIONS,
    SESSIONS_GAUGE,
    SPEND_GAUGE,
    SQL_MODEL,
    SQL_ORG,
    SQL_SESSIONS,
    SQL_TEAM,
    TEAM,
    TOKENS,
    sel,
    t,
)

# --- colours of the ratios ------------------------------------------------------------------------------------
# Fewer than half of the proposals accepted means the edits are mostly unwanted; 70 % is a healthy team.
ACCEPTANCE_COLOURS = higher_is_better(0.5, 0.7)
# A session re-sends its context with every call, so most prompt tokens should be cache reads: below half the
# prompt cache is not doing its job (short sessions, changing system prompts, cache expiry between turns).
CACHE_HIT_COLOURS = higher_is_better(0.5, 0.8)
# Some tool failures are ordinary work (a failing test, a missing file); many mean a broken tool or MCP server.
TOOL_SUCCESS_COLOURS = higher_is_better(0.8, 0.95)
# API errors: amber from 1 %, red from the share at which ClaudeCodeApiErrorRatioHigh fires.
API_ERROR_COLOURS = lower_is_better(0.01, t("api_error_ratio"))

# Claude Code names an MCP tool `mcp__<server>__<tool>`, or `mcp_tool` while tool details are not logged.
MCP_TOOLS = "mcp__.+|mcp_tool"
SESSION_ROWS = 20
EVENT_ROWS = 50

# --- Claude Code Analytics: the console's views from the rollups ----------------------------------------------

CH_FILTER = f"{SQL_ORG}\n      AND {SQL_TEAM}"


def accepted_lines_stat() -> dict[str, Any]:
    return panel(
        "stat",
        "Accepted lines",
        [
            ch(
                f"""
SELECT sum(accepted_lines) AS "Accepted lines", sum(removed_lines) AS "Removed lines"
FROM (
    SELECT accepted_lines, removed_lines FROM org_daily
    WHERE {DAYS}
      AND {CH_FILTER}
    UNION ALL
    SELECT accepted_lines, removed_lines FROM member_hourly
    WHERE {EDGE_HOURS}
      AND {CH_FILTER}
)""",
                table=True,
            )
        ],
        "Σ lines_of_code.count{type=added} in the time range (removed lines beside). Only accepted edits "
        "produce lines.",
    )


def acceptance_rate_stat() -> dict[str, Any]:
    return panel(
        "stat",
        "Acceptance rate",
        [
            ch(
                f"""
SELECT if(sum(accepts) + sum(rejects) = 0, NULL, sum(accepts) / (sum(accepts) + sum(rejects))) AS "Acceptance rate",
       sum(accepts) AS "Accepted", sum(rejects) AS "Rejected"
FROM (
    SELECT accepts, rejects FROM org_daily
    WHERE {DAYS}
      AND {CH_FILTER}
    UNION ALL
    SELECT accepts, rejects FROM member_hourly
    WHERE {EDGE_HOURS}
      AND {CH_FILTER}
)""",
                table=True,
            )
        ],
        "accepts / (accepts + rejects) of code_edit_tool.decision for Edit, MultiEdit, Write and NotebookEdit; "
        "empty when there were no decisions. Red below 50 %, amber below 70 %.",
        unit=PERCENT,
        options=stat_of("Acceptance rate"),
        thresholds=ACCEPTANCE_COLOURS,
    )


def cache_hit_stat_clickhouse() -> dict[str, Any]:
    return panel(
        "stat",
        "Cache hit ratio",
        [
            ch(
                f"""
SELECT if(sum(prompt_tokens) = 0, NULL, sum(cache_read_tokens) / sum(prompt_tokens)) AS "Cache hit ratio",
       sum(cache_read_tokens) AS "Cache read tokens", sum(prompt_tokens) AS "Prompt tokens"
FROM (
    SELECT cache_read_tokens, input_tokens + cache_read_tokens + cache_creation_tokens AS prompt_tokens
    FROM model_usage_hourly
    WHERE {HOURS}
      AND {CH_FILTER}
      AND {SQL_MODEL}
)""",
                table=True,
            )
        ],
        "cacheRead tokens / (input + cacheRead + cacheCreation tokens) in the time range: the share of prompt "
        "tokens served from the prompt cache (billed at a fraction of input). Red below 50 %, amber below 80 %.",
        unit=PERCENT,
        options=stat_of("Cache hit ratio"),
        thresholds=CACHE_HIT_COLOURS,
    )


def acceptance_by_tool_clickhouse() -> dict[str, Any]:
    return panel(
        "bargauge",
        "Acceptance rate by tool",
        [
            ch(
                f"""
SELECT tool_name AS "Tool", sum(accepts) / (sum(accepts) + sum(rejects)) AS "Acceptance rate"
FROM (
    SELECT tool_name, accepts, rejects FROM tool_decisions_daily
    WHERE {DAYS}
      AND {CH_FILTER}
    UNION ALL
    SELECT tool_name, accepts, rejects FROM tool_decisions_team_hourly
    WHERE {EDGE_HOURS}
      AND {CH_FILTER}
)
GROUP BY tool_name
HAVING sum(accepts) + sum(rejects) > 0
ORDER BY tool_name""",
                table=True,
            )
        ],
        "Acceptance rate per code-editing tool over the time range.",
        unit=PERCENT,
        options={
            **default_options("bargauge"),
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": True},
        },
        defaults={"min": 0, "max": 1},
        thresholds=ACCEPTANCE_COLOURS,
    )


def lines_per_day_clickhouse() -> dict[str, Any]:
    return panel(
        "timeseries",
        "Accepted lines per day",
        [
            ch(f"""
SELECT time, sum(accepted_lines) AS "Accepted lines", sum(removed_lines) AS "Removed lines"
FROM (
    SELECT $__timeInterval({DAY_START}) AS time, accepted_lines, removed_lines FROM org_daily
    WHERE {SERIES_DAYS}
      AND {CH_FILTER}
    UNION ALL
    SELECT $__timeInterval(hour) AS time, accepted_lines, removed_lines FROM member_hourly
    WHERE {SERIES_EDGE_HOURS}
      AND {CH_FILTER}
)
GROUP BY time
ORDER BY time""")
        ],
        "Lines added (accepted) and removed by Claude Code per day.",
        interval="1d",
        bars=True,
    )


def activity_clickhouse() -> dict[str, Any]:
    return panel(
        "timeseries",
        "Activity: active users and sessions",
        [
            ch(f"""
SELECT time, uniqExactMerge(members) AS "Active users", {SQL_SESSIONS} AS "Sessions"
FROM (
    SELECT $__timeInterval({DAY_START}) AS time, uniqExactMergeState(members) AS members,
           uniqExactMergeState(sessions) AS sessions, sum(unidentified_session_starts) AS unidentified_session_starts
    FROM org_daily
    WHERE {SERIES_DAYS}
      AND {CH_FILTER}
    GROUP BY time
    UNION ALL
    SELECT $__timeInterval(hour) AS time, uniqExactState(toString(member_type), member) AS members,
           uniqExactMergeState(sessions) AS sessions, sum(unidentified_session_starts) AS unidentified_session_starts
    FROM member_hourly
    WHERE {SERIES_EDGE_HOURS}
      AND {CH_FILTER}
    GROUP BY time
)
GROUP BY time
ORDER BY time""")
        ],
        "Distinct members (left axis) and distinct sessions (right axis) with any point or event that day.",
        right=["Sessions"],
        interval="1d",
        bars=True,
    )


def spend_clickhouse() -> dict[str, Any]:
    return panel(
        "timeseries",
        "Spend: active users and USD",
        [
            ch(f"""
SELECT time, uniqExactMerge(members) AS "Active users", sum(spend_usd) AS "Spend (USD)"
FROM (
    SELECT $__timeInterval({DAY_START}) AS time, uniqExactMergeState(members) AS members, sum(spend_usd) AS spend_usd
    FROM org_daily
    WHERE {SERIES_DAYS}
      AND {CH_FILTER}
    GROUP BY time
    UNION ALL
    SELECT $__timeInterval(hour) AS time, uniqExactState(toString(member_type), member) AS members,
           sum(spend_usd) AS spend_usd
    FROM member_hourly
    WHERE {SERIES_EDGE_HOURS}
      AND {CH_FILTER}
    GROUP BY time
)
GROUP BY time
ORDER BY time""")
        ],
        "Active users per day (left axis) and Σ cost.usage in USD (right axis).",
        right=["Spend (USD)"],
        right_unit=USD,
        interval="1d",
        bars=True,
    )


# The month of the range's end, up to its end, equals the whole month in the monthly rollup (O(members) rows
# instead of O(days × members)) when nothing is stored for a later hour of that month: the usual case of a range
# ending now. Otherwise (a range ending in the past, a clock ahead) its days and hours are read as before.
MONTH_IS_WHOLE = (
    "(SELECT count() FROM member_hourly\n"
    "           WHERE hour > $__toTime AND hour < toStartOfMonth($__toTime) + INTERVAL 1 MONTH) = 0"
)


def team_insights_clickhouse() -> dict[str, Any]:
    return panel(
        "table",
        "Team insights (calendar month of the range's end)",
        [
            ch(
                f"""
SELECT
    member AS "Member",
    toString(member_type) AS "Member type",
    sum(spend_usd) AS "Spend this month (USD)",
    sum(accepted_lines) AS "Lines this month",
    {SQL_SESSIONS} AS "Sessions",
    max(last_seen) AS "Last active"
FROM (
    SELECT member, member_type, spend_usd, accepted_lines, sessions, unidentified_session_starts, last_seen
    FROM member_monthly
    WHERE {MONTH_IS_WHOLE}
      AND month = toDate(toStartOfMonth($__toTime))
      AND {CH_FILTER}
    UNION ALL
    SELECT member, member_type, spend_usd, accepted_lines, sessions, unidentified_session_starts, last_seen
    FROM member_daily
    WHERE NOT {MONTH_IS_WHOLE}
      AND {MONTH_DAYS}
      AND {CH_FILTER}
    UNION ALL
    SELECT member, member_type, spend_usd, accepted_lines, sessions, unidentified_session_starts, last_seen
    FROM member_hourly
    WHERE NOT {MONTH_IS_WHOLE}
      AND {MONTH_EDGE_HOURS}
      AND {CH_FILTER}
)
GROUP BY member, member_type
ORDER BY "Spend this month (USD)" DESC, "Member" ASC""",
                table=True,
            )
        ],
        "Every member active in the calendar month that contains the end of the time range: API-key users by "
        "key id, OAuth users by email.",
        defaults={"custom": {"align": "auto", "filterable": True}},
        units={
            "Spend this month (USD)": USD,
            "Lines this month": COUNT,
            "Sessions": COUNT,
            "Last active": TIMESTAMP,
        },
    )


def console_panels_clickhouse(layout: Layout) -> list[dict[str, Any]]:
    """The console's five views, exact per UTC day: whole days from the daily rollups, partial ones hourly."""
    return [
        layout.row("Overview: the console's views (ClickHouse rollups, exact per UTC day)"),
        layout.place(accepted_lines_stat(), 4, 6),
        layout.place(acceptance_rate_stat(), 4, 6),
        layout.place(cache_hit_stat_clickhouse(), 4, 6),
        layout.place(acceptance_by_tool_clickhouse(), 12, 6),
        layout.place(lines_per_day_clickhouse(), 12, 8),
        layout.place(activity_clickhouse(), 12, 8),
        layout.place(spend_clickhouse(), 12, 8),
        layout.place(team_insights_clickhouse(), 12, 8),
    ]


# --- Claude Code Analytics: per member, per session, per model (ClickHouse) -----------------------------------


def members_panels(layout: Layout) -> list[dict[str, Any]]:
    where = f"{HOURS}\n  AND {SQL_ORG}\n  AND {SQL_TEAM}"
    return [
        layout.row("Per member (ClickHouse)"),
        layout.place(
            panel(
                "timeseries",
                "Spend per member",
                [
                    ch(f"""
SELECT $__timeInterval(hour) AS time, member, sum(spend_usd) AS spend_usd
FROM model_usage_hourly
WHERE {where}
  AND {SQL_MODEL}
GROUP BY time, member
ORDER BY time""")
                ],
                "USD per member and interval (models filtered by the model variable).",
                unit=USD,
                interval="1h",
                bars=True,
            ),
            12,
            8,
        ),
        layout.place(
            panel(
                "timeseries",
                "Accepted lines per member",
                [
                    ch(f"""
SELECT $__timeInterval(hour) AS time, member, sum(accepted_lines) AS accepted_lines
FROM member_hourly
WHERE {where}
GROUP BY time, member
ORDER BY time""")
                ],
                "Accepted lines per member and interval.",
                interval="1h",
                bars=True,
            ),
            12,
            8,
        ),
    ]


# One row per session of the raw points and events in the range; sessions without an id (session ids switched
# off) cannot be told apart and are left out.
SESSIONS_SQL = """
SELECT session_id AS "Session",
       any(member) AS "Member",
       sum(cost) AS "Cost (USD)",
       sum(tokens) AS "Tokens",
       sum(lines) AS "Accepted lines",
       sum(prompts) AS "Prompts",
       min(seen) AS "First seen",
       max(seen) AS "Last seen"
FROM (
    SELECT session_id, member, metric_points.time AS seen,
           if(fact = 'cost_usd', value, 0) AS cost,
           if(startsWith(fact, 'tokens_'), value, 0) AS tokens,
           if(fact = 'lines_added', value, 0) AS lines,
           0 AS prompts
    FROM metric_points
    WHERE $__timeFilter(metric_points.time)
      AND session_id != ''
      AND {filter}
    UNION ALL
    SELECT session_id, member, events.time AS seen, 0, 0, 0, event_name = 'user_prompt'
    FROM events
    WHERE $__timeFilter(events.time)
      AND session_id != ''
      AND {filter}
)
GROUP BY session_id
ORDER BY {order}, "Session"
LIMIT {rows}"""
SESSION_UNITS = {
    "Cost (USD)": USD,
    "Tokens": COUNT,
    "Accepted lines": COUNT,
    "Prompts": COUNT,
    "First seen": TIMESTAMP,
    "Last seen": TIMESTAMP,
}


def sessions_table(title: str, order: str, description: str) -> dict[str, Any]:
    query = SESSIONS_SQL.format(filter=CH_FILTER, order=order, rows=SESSION_ROWS)
    return panel(
        "table",
        title,
        [ch(query, table=True)],
        description,
        defaults={"custom": {"align": "auto", "filterable": True}},
        units=SESSION_UNITS,
    )


def model_comparison() -> dict[str, Any]:
    """Per model: spend and tokens from the rollups, API calls from the events, lines from the points."""
    return panel(
        "table",
        "Model comparison",
        [
            ch(
                f"""
SELECT model AS "Model",
       sum(spend) AS "Cost (USD)",
       sum(tokens) AS "Tokens",
       if(sum(tokens) = 0, NULL, sum(spend) / sum(tokens) * 1000) AS "USD per 1K tokens",
       if(sum(prompt_tokens) = 0, NULL, sum(cache_read) / sum(prompt_tokens)) AS "Cache hit ratio",
       sum(requests) AS "API requests",
       if(sum(requests) + sum(errors) = 0, NULL, sum(errors) / (sum(requests) + sum(errors))) AS "API error ratio",
       if(sum(requests) = 0, NULL, quantileExactIf(0.5)(duration_ms, requests = 1)) AS "Latency p50",
       if(sum(requests) = 0, NULL, quantileExactIf(0.95)(duration_ms, requests = 1)) AS "Latency p95",
       sum(lines) AS "Accepted lines"
FROM (
    SELECT model, spend_usd AS spend,
           input_tokens + output_tokens + cache_read_tokens + cache_creation_tokens AS tokens,
           input_tokens + cache_read_tokens + cache_creation_tokens AS prompt_tokens,
           cache_read_tokens AS cache_read, 0 AS requests, 0 AS errors, 0. AS duration_ms, 0. AS lines
    FROM model_usage_hourly
    WHERE {HOURS}
      AND {CH_FILTER}
      AND {SQL_MODEL}
    UNION ALL
    SELECT model, 0, 0, 0, 0, event_name = 'api_request', event_name = 'api_error', duration_ms, 0
    FROM events
    WHERE $__timeFilter(events.time)
      AND event_name IN ('api_request', 'api_error')
      AND {CH_FILTER}
      AND {SQL_MODEL}
    UNION ALL
    SELECT model, 0, 0, 0, 0, 0, 0, 0, value
    FROM metric_points
    WHERE $__timeFilter(metric_points.time)
      AND fact = 'lines_added'
      AND {CH_FILTER}
      AND {SQL_MODEL}
)
WHERE model != ''
GROUP BY model
ORDER BY "Cost (USD)" DESC, model""",
                table=True,
            )
        ],
        "Per model over the time range: Σ cost.usage, tokens of all four types, USD per 1 000 tokens, the share of "
        "prompt tokens read from the cache, api_request events, api_error / (api_request + api_error), the median "
        "and 95th percentile of api_request duration_ms, and accepted lines (lines_of_code.count carries the model "
        "from Claude Code 2.1.172).",
        defaults={"custom": {"align": "auto"}},
        units={
            "Cost (USD)": USD,
            "Tokens": COUNT,
            "USD per 1K tokens": USD,
            "Cache hit ratio": PERCENT,
            "API requests": COUNT,
            "API error ratio": PERCENT,
            "Latency p50": MILLISECONDS,
            "Latency p95": MILLISECONDS,
            "Accepted lines": COUNT,
        },
    )


def sessions_and_models_panels(layout: Layout) -> list[dict[str, Any]]:
    return [
        layout.row("Models and sessions (ClickHouse raw points and events)"),
        layout.place(model_comparison(), 24, 7),
        layout.place(
            sessions_table(
                "Priciest sessions",
                '"Cost (USD)" DESC',
                f"The {SESSION_ROWS} sessions that cost most in the time range, with their tokens, accepted lines, "
                "prompts and first and last record.",
            ),
            12,
            9,
        ),
        layout.place(
            sessions_table(
                "Top sessions by accepted lines",
                '"Accepted lines" DESC, "Cost (USD)" DESC',
                f"The {SESSION_ROWS} sessions that produced most accepted lines in the time range.",
            ),
            12,
            9,
        ),
    ]


# --- Claude Code Analytics: API and tools from the events table (ClickHouse) ----------------------------------

EVENTS_FILTER = f"$__timeFilter(events.time)\n  AND {SQL_ORG}\n  AND {SQL_TEAM}"


def api_requests_clickhouse() -> dict[str, Any]:
    return panel(
        "timeseries",
        "API requests and errors",
        [
            ch(f"""
SELECT $__timeInterval(events.time) AS time,
       countIf(event_name = 'api_request') AS "API requests",
       countIf(event_name = 'api_error') AS "API errors"
FROM events
WHERE {EVENTS_FILTER}
  AND {SQL_MODEL}
  AND event_name IN ('api_request', 'api_error')
GROUP BY time
ORDER BY time""")
        ],
        "Claude Code's api_request and api_error events per interval.",
        right=["API errors"],
        interval="5m",
        bars=True,
    )


def api_error_ratio_clickhouse() -> dict[str, Any]:
    return panel(
        "stat",
        "API error ratio",
        [
            ch(
                f"""
SELECT countIf(event_name = 'api_error') AS "API errors",
       countIf(event_name = 'api_request') AS "API requests",
       if(count() = 0, NULL, countIf(event_name = 'api_error') / count()) AS "API error ratio"
FROM events
WHERE {EVENTS_FILTER}
  AND {SQL_MODEL}
  AND event_name IN ('api_request', 'api_error')""",
                table=True,
            )
        ],
        "api_error events / (api_request + api_error events) over the time range. Amber from 1 %, red from the "
        "alert's threshold.",
        options=stat_of("API error ratio"),
        unit=PERCENT,
        thresholds=API_ERROR_COLOURS,
    )


def api_latency_clickhouse() -> dict[str, Any]:
    return panel(
        "timeseries",
        "API latency",
        [
            ch(f"""
SELECT $__timeInterval(events.time) AS time,
       avg(duration_ms) AS "Mean (ms)",
       quantileExact(0.95)(duration_ms) AS "p95 (ms)",
       max(duration_ms) AS "Max (ms)"
FROM events
WHERE {EVENTS_FILTER}
  AND {SQL_MODEL}
  AND event_name = 'api_request'
GROUP BY time
ORDER BY time""")
        ],
        "duration_ms of api_request events: mean, 95th percentile and maximum per interval.",
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
       count() AS "Results",
       countIf(success = 'true') AS "Succeeded",
       countIf(success = 'true') / count() AS "Success rate",
       avg(duration_ms) AS "Mean duration"
FROM events
WHERE {EVENTS_FILTER}
  AND event_name = 'tool_result'
GROUP BY tool_name
ORDER BY tool_name""",
                table=True,
            )
        ],
        "tool_result events per tool (MCP tools as mcp__<server>__<tool>): how many succeeded, mean duration.",
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
    """API and tool health: exact from the events table, with status classes and tool calls from Prometheus."""
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


# --- Prometheus: Claude Code's counters -----------------------------------------------------------------------


def usage_panels(layout: Layout) -> list[dict[str, Any]]:
    """Tokens, cost, cache, sessions, commits, active time: Claude Code's counters through Prometheus."""
    f = (ORG, TEAM)
    return [
        layout.row("Usage (Prometheus counters)"),
        layout.place(
            panel(
                "timeseries",
                "Tokens by type and model",
                [prom(f"sum by (type, model) (increase({sel(TOKENS, *f, MODEL)}[$__interval]))", "{{model}} {{type}}")],
                "token.usage per type (input, output, cacheRead, cacheCreation) and model, per interval.",
                interval="5m",
                bars=True,
            ),
            12,
            8,
        ),
        layout.place(
            panel(
                "timeseries",
                "Cost by model",
                [prom(f"sum by (model) (increase({sel(COST, *f, MODEL)}[$__interval]))", "{{model}}")],
                "cost.usage in USD per model, per interval.",
                unit=USD,
                interval="5m",
                bars=True,
            ),
            12,
            8,
        ),
        layout.place(
            panel(
                "bargauge",
                "Cost by model (time range)",
                [
                    prom(
                        f"sort_desc(sum by (model) (increase({sel(COST, *f, MODEL)}[$__range])))",
                        "{{model}}",
                        instant=True,
                    )
                ],
                "USD per model over the whole time range.",
                unit=USD,
            ),
            8,
            8,
        ),
        layout.place(cache_read_series(), 8, 8),
        layout.place(sessions_by_terminal(), 8, 8),
        layout.place(
            panel(
                "timeseries",
                "Commits and pull requests",
                [
                    prom(f"sum(increase({sel(COMMITS, *f)}[$__interval]))", "Commits", "A"),
                    prom(f"sum(increase({sel(PULL_REQUESTS, *f)}[$__interval]))", "Pull requests", "B"),
                ],
                "Git commits and pull requests created by Claude Code, per interval.",
                interval="5m",
                bars=True,
            ),
            12,
            8,
        ),
        layout.place(
            panel(
                "timeseries",
                "Active time",
                [prom(f"sum by (type) (increase({sel(ACTIVE_TIME, *f)}[$__interval]))", "{{type}}")],
                "active_time.total in seconds: `user` (typing, reading) and `cli` (Claude Code working), per interval.",
                unit="s",
                interval="5m",
                bars=True,
            ),
            12,
            8,
        ),
    ]


def cache_ratio_expr(window: str) -> str:
    """cacheRead tokens over prompt-side tokens (input + cacheRead + cacheCreation) over `window`."""
    f = (ORG, TEAM, MODEL)
    cache_read = sel(TOKENS, *f, 'type="cacheRead"')
    prompt_side = sel(TOKENS, *f, 'type=~"input|cacheRead|cacheCreation"')
    return f"(sum(increase({cache_read}[{window}])) or vector(0))\n/\nsum(increase({prompt_side}[{window}]))"


def cache_read_series() -> dict[str, Any]:
    return panel(
        "timeseries",
        "Cache read ratio",
        [prom(cache_ratio_expr("$__interval"), "cache read ratio")],
        "cacheRead tokens / (input + cacheRead + cacheCreation tokens) per interval: the share of prompt tokens "
        "served from the prompt cache.",
        unit=PERCENT,
        interval="5m",
        defaults={"min": 0, "max": 1},
    )


def cache_hit_stat_prometheus() -> dict[str, Any]:
    return panel(
        "stat",
        "Cache hit ratio",
        [prom(cache_ratio_expr("$__range"), "Cache hit ratio", instant=True)],
        "cacheRead tokens / (input + cacheRead + cacheCreation tokens) over the time range, from the token "
        "counter. Red below 50 %, amber below 80 %.",
        unit=PERCENT,
        thresholds=CACHE_HIT_COLOURS,
    )


def sessions_by_terminal() -> dict[str, Any]:
    starts = f"sum by (terminal_type) (increase({sel(SESSIONS, ORG, TEAM)}[$__range]))"
    return panel(
        "piechart",
        "Sessions by terminal type",
        [
            prom(
                f'sort_desc(label_replace({starts}, "terminal_type", "unknown", "terminal_type", ""))',
                "{{terminal_type}}",
                instant=True,
            )
        ],
        "Sessions started (session.count) over the time range per terminal.type: vscode, iTerm.app, tmux, "
        "non-interactive (claude -p), …; `unknown` when the client did not say.",
    )


# --- Prometheus: Claude Code's events counted by the collector ------------------------------------------------


def events_selector(*matchers: str) -> str:
    return sel(API_EVENTS, ORG, TEAM, *matchers)


API_REQUESTS = events_selector('event_name="api_request"', MODEL)
API_ERRORS = events_selector('event_name="api_error"', MODEL)
TOOL_RESULTS = events_selector('event_name="tool_result"')


def api_requests_prometheus() -> dict[str, Any]:
    return panel(
        "timeseries",
        "API requests and errors",
        [
            prom(f"sum(increase({API_REQUESTS}[$__interval]))", "API requests", "A"),
            prom(f"sum(increase({API_ERRORS}[$__interval]))", "API errors", "B"),
        ],
        f"Claude Code's api_request and api_error events per interval ({API_EVENTS}).",
        right=["API errors"],
        interval="5m",
        bars=True,
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
    return panel(
        "timeseries",
        "API errors by status class",
        [prom(f"sum by (status_class) (increase({API_ERRORS}[$__interval]))", "{{status_class}}")],
        "api_error events per interval by HTTP status: 429 (rate limited: usage limits, too many clients on one "
        "key), 5xx (the API or a proxy failing, 529 overloaded included), other (4xx: bad requests, auth, "
        "network errors without a status).",
        interval="5m",
        bars=True,
    )


def tool_calls() -> dict[str, Any]:
    return panel(
        "timeseries",
        "Tool calls by tool",
        [prom(f"sum by (tool_name) (increase({TOOL_RESULTS}[$__interval]))", "{{tool_name}}")],
        "tool_result events per tool and interval: built-in tools (Bash, Edit, Read, …) and MCP tools.",
        interval="5m",
        bars=True,
    )


def mcp_tool_calls() -> dict[str, Any]:
    mcp = events_selector('event_name="tool_result"', f'tool_name=~"{MCP_TOOLS}"')
    return panel(
        "timeseries",
        "MCP tool calls",
        [prom(f"sum by (tool_name) (increase({mcp}[$__interval]))", "{{tool_name}}")],
        "tool_result events of MCP tools (mcp__<server>__<tool>; `mcp_tool` when Claude Code does not log tool "
        "details) per interval.",
        interval="5m",
        bars=True,
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


# --- Claude Code Analytics (Prometheus only): the console's views ---------------------------------------------

GAUGE_NOTE = (
    "The collector's derived gauge (read from the rollups, whole UTC days, today included; all organizations and "
    "teams; every replica exposes the same figure, hence max)."
)
WINDOW = 'window="$window"'


def gauge_stat(title: str, gauge: str, description: str, unit: str = COUNT) -> dict[str, Any]:
    return panel(
        "stat",
        title,
        [prom(f"max({gauge}{{{WINDOW}}})", title.split(" (")[0], instant=True)],
        f"{description} {GAUGE_NOTE}",
        unit=unit,
    )


def acceptance_gauge_panels() -> list[dict[str, Any]]:
    ratio = ACCEPTANCE_GAUGE
    overall = panel(
        "stat",
        "Acceptance rate ($window)",
        [prom(f'max({ratio}{{{WINDOW}, tool_name="all"}})', "Acceptance rate", instant=True)],
        "accepts / (accepts + rejects) of code_edit_tool.decision for Edit, MultiEdit, Write and NotebookEdit "
        f"over the window; red below 50 %, amber below 70 %. {GAUGE_NOTE}",
        unit=PERCENT,
        thresholds=ACCEPTANCE_COLOURS,
    )
    by_tool = panel(
        "bargauge",
        "Acceptance rate by tool ($window)",
        [prom(f'max by (tool_name) ({ratio}{{{WINDOW}, tool_name!="all"}})', "{{tool_name}}", instant=True)],
        f"Acceptance rate per code-editing tool over the window. {GAUGE_NOTE}",
        unit=PERCENT,
        defaults={"min": 0, "max": 1},
        thresholds=ACCEPTANCE_COLOURS,
    )
    return [overall, by_tool]


def console_panels_prometheus(layout: Layout) -> list[dict[str, Any]]:
    """The console's views from Prometheus: the exporter's derived gauges (exact, read from the rollups) and the
    counters (per interval)."""
    f = (ORG, TEAM)
    decided = sel(DECISIONS, *f, f'tool_name=~"{EDIT_TOOLS}"')
    accepted = sel(DECISIONS, *f, f'tool_name=~"{EDIT_TOOLS}"', 'decision="accept"')
    added = sel(LINES, *f, 'type="added"')
    removed = sel(LINES, *f, 'type="removed"')
    overall, by_tool = acceptance_gauge_panels()
    return [
        layout.row("Overview: the console's views (Prometheus)"),
        layout.place(
            gauge_stat(
                "Accepted lines ($window)",
                ACCEPTED_LINES_GAUGE,
                "Σ lines_of_code.count{type=added} over the window.",
            ),
            4,
            5,
        ),
        layout.place(gauge_stat("Spend ($window)", SPEND_GAUGE, "Σ cost.usage in USD over the window.", USD), 4, 5),
        layout.place(
            gauge_stat(
                "Active users ($window)",
                ACTIVE_USERS_GAUGE,
                "Distinct members with any point or event in the window.",
            ),
            4,
            5,
        ),
        layout.place(gauge_stat("Sessions ($window)", SESSIONS_GAUGE, "Distinct sessions in the window."), 4, 5),
        layout.place(overall, 4, 5),
        layout.place(cache_hit_stat_prometheus(), 4, 5),
        layout.place(by_tool, 12, 7),
        layout.place(
            panel(
                "timeseries",
                "Acceptance rate by interval",
                [
                    prom(
                        f"sum(increase({accepted}[$__interval])) / sum(increase({decided}[$__interval]))",
                        "Acceptance rate",
                    )
                ],
                "accepts / (accepts + rejects) of the code-editing tools per interval, from the counters (follows the "
                "organization and team variables).",
                unit=PERCENT,
                interval="1h",
                defaults={"min": 0, "max": 1},
            ),
            12,
            7,
        ),
        layout.place(
            panel(
                "timeseries",
                "Accepted lines",
                [
                    prom(f"sum(increase({added}[$__interval]))", "Accepted lines", "A"),
                    prom(f"sum(increase({removed}[$__interval]))", "Removed lines", "B"),
                ],
                "Lines added (accepted) and removed per interval.",
                interval="1h",
                bars=True,
            ),
            12,
            7,
        ),
        layout.place(
            panel(
                "timeseries",
                "Activity: active users and sessions today",
                [
                    prom(f'max({ACTIVE_USERS_GAUGE}{{window="1d"}})', "Active users", "A"),
                    prom(f'max({SESSIONS_GAUGE}{{window="1d"}})', "Sessions", "B"),
                ],
                "Distinct members (left axis) and sessions (right axis) so far in the current UTC day.",
                right=["Sessions"],
            ),
            12,
            8,
        ),
        layout.place(
            panel(
                "timeseries",
                "Spend: active users and USD",
                [
                    prom(f'max({ACTIVE_USERS_GAUGE}{{window="1d"}})', "Active users", "A"),
                    prom(f"sum(increase({sel(COST, *f, MODEL)}[$__interval]))", "Spend (USD)", "B"),
                ],
                "Active users today (left axis) and USD spent per interval (right axis).",
                right=["Spend (USD)"],
                right_unit=USD,
                interval="1h",
            ),
            12,
            8,
        ),
        layout.place(members_table_prometheus(), 24, 8),
    ]


def members_table_prometheus() -> dict[str, Any]:
    f = (ORG, TEAM)
    added = sel(LINES, *f, 'type="added"')
    return panel(
        "table",
        "Spend and lines by member (needs per-member labels)",
        [
            prom(f"sort_desc(sum by (member) (increase({sel(COST, *f)}[$__range])))", "", "A", instant=True),
            prom(f"sum by (member) (increase({added}[$__range]))", "", "B", instant=True),
        ],
        "Per member only when the collector exposes the `member` label (metrics.member_labels: true); "
        "otherwise one row for everyone. The exact team table lives in the ClickHouse dashboard.",
        units={"Spend (USD)": USD, "Accepted lines": COUNT},
    ) | {
        "transformations": [
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True},
                    "renameByName": {"member": "Member", "Value #A": "Spend (USD)", "Value #B": "Accepted lines"},
                },
            },
        ]
    }


# --- variables and dashboards ---------------------------------------------------------------------------------


def analytics_variables_clickhouse() -> list[dict[str, Any]]:
    return [
        datasource_variable("prometheus", "Prometheus"),
        datasource_variable("clickhouse", "ClickHouse"),
        ch_variable(
            "organization",
            "Organization",
            f"""
SELECT DISTINCT toString(organization_id) FROM (
    SELECT organization_id FROM org_daily WHERE {DAYS}
    UNION ALL
    SELECT organization_id FROM member_hourly WHERE {EDGE_HOURS}
)
WHERE organization_id != ''
ORDER BY 1""",
        ),
        ch_variable(
            "team",
            "Team",
            f"""
SELECT DISTINCT toString(team) FROM (
    SELECT team FROM org_daily WHERE {DAYS}
    UNION ALL
    SELECT team FROM member_hourly WHERE {EDGE_HOURS}
)
WHERE team != ''
ORDER BY 1""",
        ),
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


def analytics_dashboard() -> dict[str, Any]:
    layout = Layout()
    panels = (
        console_panels_clickhouse(layout)
        + usage_panels(layout)
        + events_panels_clickhouse(layout)
        + sessions_and_models_panels(layout)
        + members_panels(layout)
    )
    panels += [layout.row("Alerts"), layout.place(claude_code_alerts(), 24, 6)]
    return dashboard(
        "cc-analytics",
        "Claude Code Analytics",
        "Claude Code usage: the console's views (accepted lines, acceptance rate, activity, spend, team insights) "
        "exact from the ClickHouse rollups, usage counters from Prometheus, API and tool health from the events, "
        "models and sessions from the raw points.",
        panels,
        analytics_variables_clickhouse(),
        tags=("clickhouse", "prometheus"),
    )


def analytics_prometheus_dashboard() -> dict[str, Any]:
    layout = Layout()
    panels = console_panels_prometheus(layout) + usage_panels(layout) + events_panels_prometheus(layout)
    panels += [layout.row("Alerts"), layout.place(claude_code_alerts(), 24, 6)]
    return dashboard(
        "cc-analytics-prometheus",
        "Claude Code Analytics (Prometheus only)",
        "The Claude Code Analytics views from Prometheus alone, for collectors on the embedded store that Grafana "
        "cannot reach. Window figures come from the collector's derived gauges, the rest from Claude Code's "
        "counters and the collector's events counter.",
        panels,
        analytics_variables_prometheus(),
        tags=("prometheus",),
    )
