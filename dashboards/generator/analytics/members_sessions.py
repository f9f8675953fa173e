"""Per member, per session and per model (ClickHouse): who spends and ships what, the costliest and longest
sessions, the models side by side."""

from __future__ import annotations

from typing import Any

from generator.analytics.common import CH_FILTER, LATENCY_PERCENTILES, SESSION_ROWS, WHOLE_HOURS, api_latency_filter
from generator.grafana import COUNT, MILLISECONDS, PERCENT, TIMESTAMP, USD, Layout, bar_series, ch, panel
from generator.vocabulary import HOURS, SQL_MODEL, SQL_ORG, SQL_TEAM

# --- Claude Code Analytics: per member, per session, per model (ClickHouse) -----------------------------------


# Members drawn by the per-member panels: the ones with the most of the panel's figure over the whole range. A
# bar per member and interval for every member of a large organization (10 000) is unreadable and costs
# O(hours × members) rows to return; the top ones are what the panel is read for.
MEMBER_SERIES = 10


def top_members_series(figure: str, table: str, where: str) -> str:
    """Per interval, `figure` summed for the MEMBER_SERIES members with the largest total of it over the range."""
    return f"""
SELECT $__timeInterval(hour) AS time, member, sum({figure}) AS {figure}
FROM {table}
WHERE {where}
  AND member IN (
    SELECT member
    FROM {table}
    WHERE {where}
    GROUP BY member
    ORDER BY sum({figure}) DESC, member
    LIMIT {MEMBER_SERIES})
GROUP BY time, member
ORDER BY time"""


def members_panels(layout: Layout) -> list[dict[str, Any]]:
    where = f"{HOURS}\n  AND {SQL_ORG}\n  AND {SQL_TEAM}"
    return [
        layout.row("Per member (ClickHouse)"),
        layout.place(
            bar_series(
                "Spend per member",
                [ch(top_members_series("spend_usd", "model_usage_hourly", f"{where}\n  AND {SQL_MODEL}"))],
                f"USD per interval of the {MEMBER_SERIES} members who spent most over the time range (models "
                "filtered by the model variable).",
                unit=USD,
                interval="1h",
            ),
            12,
            8,
        ),
        layout.place(
            bar_series(
                "Accepted lines per member",
                [ch(top_members_series("accepted_lines", "member_hourly", where))],
                f"Accepted lines per interval of the {MEMBER_SERIES} members with the most accepted lines over the "
                "time range.",
                interval="1h",
            ),
            12,
            8,
        ),
    ]


# One row per session of the range, from the per-session hourly rollup (whole hours, as every rollup panel);
# sessions without an id (session ids switched off) cannot be told apart and are left out.
SESSIONS_SQL = f"""
SELECT session_id AS "Session",
       any(member) AS "Member",
       sum(spend_usd) AS "Cost (USD)",
       sum(tokens) AS "Tokens",
       sum(accepted_lines) AS "Accepted lines",
       sum(prompts) AS "Prompts",
       min(first_seen) AS "First seen",
       max(last_seen) AS "Last seen"
FROM session_hourly
WHERE {HOURS}
  AND {{filter}}
GROUP BY session_id
ORDER BY {{order}}, "Session"
LIMIT {{rows}}"""
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
    """Per model, from the per-model rollup (model_team_hourly): spend, tokens, API calls and lines; the latency
    percentiles from the API latency rollup's sketches over the same whole hours."""
    return panel(
        "table",
        "Model comparison",
        [
            ch(
                f"""
SELECT model AS "Model",
       spend AS "Cost (USD)",
       tokens AS "Tokens",
       if(tokens = 0, NULL, spend / tokens * 1000) AS "USD per 1K tokens",
       if(prompt_tokens = 0, NULL, cache_read / prompt_tokens) AS "Cache hit ratio",
       requests AS "API requests",
       if(requests + errors = 0, NULL, errors / (requests + errors)) AS "API error ratio",
       if(requests = 0, NULL, latency[1]) AS "Latency p50",
       if(requests = 0, NULL, latency[2]) AS "Latency p95",
       lines AS "Accepted lines"
FROM (
    SELECT model,
           sum(spend_usd) AS spend,
           sum(input_tokens + output_tokens + cache_read_tokens + cache_creation_tokens) AS tokens,
           sum(input_tokens + cache_read_tokens + cache_creation_tokens) AS prompt_tokens,
           sum(cache_read_tokens) AS cache_read,
           sum(api_requests) AS requests,
           sum(api_errors) AS errors,
           sum(accepted_lines) AS lines
    FROM model_team_hourly
    WHERE {HOURS}
      AND {CH_FILTER}
      AND {SQL_MODEL}
    GROUP BY model
) AS totals
LEFT JOIN (
    SELECT model, {LATENCY_PERCENTILES} AS latency
    FROM api_latency_5m
    WHERE {api_latency_filter(WHOLE_HOURS)}
    GROUP BY model
) AS latencies USING (model)
ORDER BY "Cost (USD)" DESC, model""",
                table=True,
            )
        ],
        "Per model over the time range, in whole hours like every rollup panel: Σ cost.usage, tokens of all four "
        "types, USD per 1 000 tokens, the share of prompt tokens read from the cache, api_request events, "
        "api_error / (api_request + api_error), the median and 95th percentile of api_request duration_ms within 1 % "
        "(from DDSketches per five minutes), "
        "and accepted lines (lines_of_code.count carries the model from Claude Code 2.1.172).",
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
        layout.row("Models and sessions (ClickHouse)"),
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
