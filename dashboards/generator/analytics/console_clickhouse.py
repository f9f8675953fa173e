"""The console's views (accepted lines, acceptance rate, cache hits, activity, spend, team insights), exact
from the ClickHouse rollups."""

from __future__ import annotations

from typing import Any

from generator.analytics.common import ACCEPTANCE_COLOURS, CACHE_HIT_COLOURS, CH_FILTER, days_and_edge_hours
from generator.grafana import COUNT, PERCENT, TIMESTAMP, USD, Layout, bar_series, ch, default_options, panel, ratio_stat
from generator.vocabulary import (
    DAY_START,
    HOURS,
    MONTH_DAYS,
    MONTH_EDGE_HOURS,
    SERIES_DAYS,
    SERIES_EDGE_HOURS,
    SQL_MODEL,
    SQL_SESSIONS,
)

# --- Claude Code Analytics: the console's views from the rollups ----------------------------------------------


def accepted_lines_stat() -> dict[str, Any]:
    return panel(
        "stat",
        "Accepted lines",
        [
            ch(
                f"""
SELECT sum(accepted_lines) AS "Accepted lines", sum(removed_lines) AS "Removed lines"
FROM (
{days_and_edge_hours("accepted_lines, removed_lines")}
)""",
                table=True,
            )
        ],
        "Σ lines_of_code.count{type=added} in the time range (removed lines beside). Only accepted edits "
        "produce lines.",
    )


def acceptance_rate_stat() -> dict[str, Any]:
    return ratio_stat(
        "Acceptance rate",
        f"""
SELECT if(sum(accepts) + sum(rejects) = 0, NULL, sum(accepts) / (sum(accepts) + sum(rejects))) AS "Acceptance rate",
       sum(accepts) AS "Accepted", sum(rejects) AS "Rejected"
FROM (
{days_and_edge_hours("accepts, rejects")}
)""",
        "accepts / (accepts + rejects) of code_edit_tool.decision for Edit, MultiEdit, Write and NotebookEdit; "
        "empty when there were no decisions. Red below 50 %, amber below 70 %.",
        ACCEPTANCE_COLOURS,
    )


def cache_hit_stat_clickhouse() -> dict[str, Any]:
    return ratio_stat(
        "Cache hit ratio",
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
        "cacheRead tokens / (input + cacheRead + cacheCreation tokens) in the time range: the share of prompt "
        "tokens served from the prompt cache (billed at a fraction of input). Red below 50 %, amber below 80 %.",
        CACHE_HIT_COLOURS,
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
{days_and_edge_hours("tool_name, accepts, rejects", "tool_decisions_daily", "tool_decisions_team_hourly")}
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
    return bar_series(
        "Accepted lines per day",
        [
            ch(f"""
SELECT time, sum(accepted_lines) AS "Accepted lines", sum(removed_lines) AS "Removed lines"
FROM (
    SELECT $__timeInterval({DAY_START}) AS time, accepted_lines, removed_lines FROM team_daily
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
    )


def activity_clickhouse() -> dict[str, Any]:
    return bar_series(
        "Activity: active users and sessions",
        [
            ch(f"""
SELECT time, uniqExactMerge(members) AS "Active users", {SQL_SESSIONS} AS "Sessions"
FROM (
    SELECT $__timeInterval({DAY_START}) AS time, uniqExactMergeState(members) AS members,
           uniqExactMergeState(sessions) AS sessions, sum(unidentified_session_starts) AS unidentified_session_starts
    FROM team_daily
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
    )


def spend_clickhouse() -> dict[str, Any]:
    return bar_series(
        "Spend: active users and USD",
        [
            ch(f"""
SELECT time, uniqExactMerge(members) AS "Active users", sum(spend_usd) AS "Spend (USD)"
FROM (
    SELECT $__timeInterval({DAY_START}) AS time, uniqExactMergeState(members) AS members, sum(spend_usd) AS spend_usd
    FROM team_daily
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
