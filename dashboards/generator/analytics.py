"""The Claude Code Analytics dashboards (ClickHouse + Prometheus, and Prometheus only)."""

from __future__ import annotations

from typing import Any

from generator.grafana import (
    Layout,
    ch,
    ch_variable,
    dashboard,
    default_options,
    panel,
    prom,
    prom_variable,
    text_panel,
    window_variable,
)
from generator.vocabulary import (
    ACTIVE_TIME,
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
    SQL_MODEL,
    SQL_ORG,
    SQL_SESSIONS,
    SQL_TEAM,
    TEAM,
    TOKENS,
    sel,
)

# --- Claude Code Analytics: the panels ------------------------------------------------------------------------


def seed_panels_clickhouse(layout: Layout) -> list[dict[str, Any]]:
    """The seed's five views, exact per UTC day: whole days from the daily rollups, partial ones hourly."""
    f = f"{SQL_ORG}\n      AND {SQL_TEAM}"
    return [
        layout.row("Overview: the console's views (ClickHouse rollups, exact per UTC day)"),
        layout.place(
            panel(
                "stat",
                "Accepted lines",
                [
                    ch(
                        f"""
SELECT sum(accepted_lines) AS "Accepted lines", sum(removed_lines) AS "Removed lines"
FROM (
    SELECT accepted_lines, removed_lines FROM org_daily
    WHERE {DAYS}
      AND {f}
    UNION ALL
    SELECT accepted_lines, removed_lines FROM member_hourly
    WHERE {EDGE_HOURS}
      AND {f}
)""",
                        table=True,
                    )
                ],
                "Σ lines_of_code.count{type=added} in the time range (removed lines beside). Only accepted edits "
                "produce lines.",
            ),
            6,
            6,
        ),
        layout.place(
            panel(
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
      AND {f}
    UNION ALL
    SELECT accepts, rejects FROM member_hourly
    WHERE {EDGE_HOURS}
      AND {f}
)""",
                        table=True,
                    )
                ],
                "accepts / (accepts + rejects) of code_edit_tool.decision for Edit, MultiEdit, Write and NotebookEdit; "
                "empty when there were no decisions.",
                unit="percentunit",
            ),
            6,
            6,
        ),
        layout.place(
            panel(
                "bargauge",
                "Acceptance rate by tool",
                [
                    ch(
                        f"""
SELECT tool_name AS "Tool", sum(accepts) / (sum(accepts) + sum(rejects)) AS "Acceptance rate"
FROM (
    SELECT tool_name, accepts, rejects FROM tool_decisions_daily
    WHERE {DAYS}
      AND {f}
    UNION ALL
    SELECT tool_name, accepts, rejects FROM tool_decisions_hourly
    WHERE {EDGE_HOURS}
      AND {f}
)
GROUP BY tool_name
HAVING sum(accepts) + sum(rejects) > 0
ORDER BY tool_name""",
                        table=True,
                    )
                ],
                "Acceptance rate per code-editing tool over the time range.",
                unit="percentunit",
                options={
                    **default_options("bargauge"),
                    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": True},
                },
                defaults={"min": 0, "max": 1},
            ),
            12,
            6,
        ),
        layout.place(
            panel(
                "timeseries",
                "Accepted lines per day",
                [
                    ch(f"""
SELECT time, sum(accepted_lines) AS "Accepted lines", sum(removed_lines) AS "Removed lines"
FROM (
    SELECT $__timeInterval({DAY_START}) AS time, accepted_lines, removed_lines FROM org_daily
    WHERE {SERIES_DAYS}
      AND {f}
    UNION ALL
    SELECT $__timeInterval(hour) AS time, accepted_lines, removed_lines FROM member_hourly
    WHERE {SERIES_EDGE_HOURS}
      AND {f}
)
GROUP BY time
ORDER BY time""")
                ],
                "Lines added (accepted) and removed by Claude Code per day.",
                interval="1d",
                bars=True,
            ),
            12,
            8,
        ),
        layout.place(
            panel(
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
      AND {f}
    GROUP BY time
    UNION ALL
    SELECT $__timeInterval(hour) AS time, uniqExactState(toString(member_type), member) AS members,
           uniqExactMergeState(sessions) AS sessions, sum(unidentified_session_starts) AS unidentified_session_starts
    FROM member_hourly
    WHERE {SERIES_EDGE_HOURS}
      AND {f}
    GROUP BY time
)
GROUP BY time
ORDER BY time""")
                ],
                "Distinct members (left axis) and distinct sessions (right axis) with any point or event that day.",
                right=["Sessions"],
                interval="1d",
                bars=True,
            ),
            12,
            8,
        ),
        layout.place(
            panel(
                "timeseries",
                "Spend: active users and USD",
                [
                    ch(f"""
SELECT time, uniqExactMerge(members) AS "Active users", sum(spend_usd) AS "Spend (USD)"
FROM (
    SELECT $__timeInterval({DAY_START}) AS time, uniqExactMergeState(members) AS members, sum(spend_usd) AS spend_usd
    FROM org_daily
    WHERE {SERIES_DAYS}
      AND {f}
    GROUP BY time
    UNION ALL
    SELECT $__timeInterval(hour) AS time, uniqExactState(toString(member_type), member) AS members,
           sum(spend_usd) AS spend_usd
    FROM member_hourly
    WHERE {SERIES_EDGE_HOURS}
      AND {f}
    GROUP BY time
)
GROUP BY time
ORDER BY time""")
                ],
                "Active users per day (left axis) and Σ cost.usage in USD (right axis).",
                right=["Spend (USD)"],
                right_unit="currencyUSD",
                interval="1d",
                bars=True,
            ),
            12,
            8,
        ),
        layout.place(
            panel(
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
    FROM member_daily
    WHERE {MONTH_DAYS}
      AND {f}
    UNION ALL
    SELECT member, member_type, spend_usd, accepted_lines, sessions, unidentified_session_starts, last_seen
    FROM member_hourly
    WHERE {MONTH_EDGE_HOURS}
      AND {f}
)
GROUP BY member, member_type
ORDER BY "Spend this month (USD)" DESC, "Member" ASC""",
                        table=True,
                    )
                ],
                "Every member active in the calendar month that contains the end of the time range: API-key users by "
                "key id, OAuth users by email.",
                defaults={"custom": {"align": "auto", "filterable": True}},
            ),
            12,
            8,
        ),
    ]


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
                unit="currencyUSD",
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


def events_panels(layout: Layout) -> list[dict[str, Any]]:
    where = f"$__timeFilter(events.time)\n  AND {SQL_ORG}\n  AND {SQL_TEAM}"
    return [
        layout.row("API and tools (ClickHouse events)"),
        layout.place(
            panel(
                "timeseries",
                "API requests and errors",
                [
                    ch(f"""
SELECT $__timeInterval(events.time) AS time,
       countIf(event_name = 'api_request') AS "API requests",
       countIf(event_name = 'api_error') AS "API errors"
FROM events
WHERE {where}
  AND {SQL_MODEL}
  AND event_name IN ('api_request', 'api_error')
GROUP BY time
ORDER BY time""")
                ],
                "Claude Code's api_request and api_error events per interval.",
                right=["API errors"],
                interval="5m",
                bars=True,
            ),
            8,
            8,
        ),
        layout.place(
            panel(
                "stat",
                "API error ratio",
                [
                    ch(
                        f"""
SELECT countIf(event_name = 'api_error') AS "API errors",
       countIf(event_name = 'api_request') AS "API requests",
       if(count() = 0, NULL, countIf(event_name = 'api_error') / count()) AS "API error ratio"
FROM events
WHERE {where}
  AND {SQL_MODEL}
  AND event_name IN ('api_request', 'api_error')""",
                        table=True,
                    )
                ],
                "api_error events / (api_request + api_error events) over the time range.",
                options={
                    **default_options("stat"),
                    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "/^API error ratio$/", "values": False},
                },
                unit="percentunit",
            ),
            4,
            8,
        ),
        layout.place(
            panel(
                "timeseries",
                "API latency",
                [
                    ch(f"""
SELECT $__timeInterval(events.time) AS time,
       avg(duration_ms) AS "Mean (ms)",
       quantileExact(0.95)(duration_ms) AS "p95 (ms)",
       max(duration_ms) AS "Max (ms)"
FROM events
WHERE {where}
  AND {SQL_MODEL}
  AND event_name = 'api_request'
GROUP BY time
ORDER BY time""")
                ],
                "duration_ms of api_request events: mean, 95th percentile and maximum per interval.",
                unit="ms",
                interval="5m",
            ),
            12,
            8,
        ),
        layout.place(
            panel(
                "table",
                "Tool success rate",
                [
                    ch(
                        f"""
SELECT tool_name AS "Tool",
       count() AS "Results",
       countIf(success = 'true') AS "Succeeded",
       countIf(success = 'true') / count() AS "Success rate",
       avg(duration_ms) AS "Mean duration (ms)"
FROM events
WHERE {where}
  AND event_name = 'tool_result'
GROUP BY tool_name
ORDER BY tool_name""",
                        table=True,
                    )
                ],
                "tool_result events per tool: how many succeeded.",
                defaults={"custom": {"align": "auto"}},
            ),
            24,
            8,
        ),
    ]


def usage_panels(layout: Layout) -> list[dict[str, Any]]:
    """Tokens, cost, cache, commits, active time: Claude Code's counters through Prometheus."""
    f = (ORG, TEAM)
    tokens_in = sel(TOKENS, *f, MODEL, 'type=~"input|cacheRead|cacheCreation"')
    cache_read = sel(TOKENS, *f, MODEL, 'type="cacheRead"')
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
                unit="currencyUSD",
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
                unit="currencyUSD",
            ),
            8,
            8,
        ),
        layout.place(
            panel(
                "timeseries",
                "Cache read ratio",
                [
                    prom(
                        f"(sum(increase({cache_read}[$__interval])) or vector(0))\n"
                        f"/\nsum(increase({tokens_in}[$__interval]))",
                        "cache read ratio",
                    )
                ],
                "cacheRead tokens / (input + cacheRead + cacheCreation tokens): the share of prompt tokens served "
                "from the prompt cache.",
                unit="percentunit",
                interval="5m",
                defaults={"min": 0, "max": 1},
            ),
            8,
            8,
        ),
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
            8,
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
            24,
            8,
        ),
    ]


def seed_panels_prometheus(layout: Layout) -> list[dict[str, Any]]:
    """The seed's views from Prometheus: the exporter's derived gauges (exact, read from the rollups) and the
    counters (per interval)."""
    f = (ORG, TEAM)
    decided = sel(DECISIONS, *f, f'tool_name=~"{EDIT_TOOLS}"')
    accepted = sel(DECISIONS, *f, f'tool_name=~"{EDIT_TOOLS}"', 'decision="accept"')
    added = sel(LINES, *f, 'type="added"')
    removed = sel(LINES, *f, 'type="removed"')
    window = 'window="$window"'
    gauge_note = (
        "The collector's derived gauge (read from the rollups, whole UTC days, today included; "
        "all organizations and teams)."
    )
    return [
        layout.row("Overview: the console's views (Prometheus)"),
        layout.place(
            panel(
                "stat",
                "Accepted lines ($window)",
                [prom(f"sum(cc_analytics_accepted_lines{{{window}}})", "Accepted lines", instant=True)],
                f"Σ lines_of_code.count{{type=added}} over the window. {gauge_note}",
            ),
            5,
            5,
        ),
        layout.place(
            panel(
                "stat",
                "Spend ($window)",
                [prom(f"sum(cc_analytics_spend_usd{{{window}}})", "Spend", instant=True)],
                f"Σ cost.usage in USD over the window. {gauge_note}",
                unit="currencyUSD",
            ),
            5,
            5,
        ),
        layout.place(
            panel(
                "stat",
                "Active users ($window)",
                [prom(f"sum(cc_analytics_active_users{{{window}}})", "Active users", instant=True)],
                f"Distinct members with any point or event in the window. {gauge_note}",
            ),
            5,
            5,
        ),
        layout.place(
            panel(
                "stat",
                "Sessions ($window)",
                [prom(f"sum(cc_analytics_sessions{{{window}}})", "Sessions", instant=True)],
                f"Distinct sessions in the window. {gauge_note}",
            ),
            5,
            5,
        ),
        layout.place(
            panel(
                "stat",
                "Acceptance rate ($window)",
                [prom(f'cc_analytics_acceptance_ratio{{{window}, tool_name="all"}}', "Acceptance rate", instant=True)],
                "accepts / (accepts + rejects) of code_edit_tool.decision for Edit, MultiEdit, Write and NotebookEdit "
                f"over the window. {gauge_note}",
                unit="percentunit",
            ),
            4,
            5,
        ),
        layout.place(
            panel(
                "bargauge",
                "Acceptance rate by tool ($window)",
                [prom(f'cc_analytics_acceptance_ratio{{{window}, tool_name!="all"}}', "{{tool_name}}", instant=True)],
                f"Acceptance rate per code-editing tool over the window. {gauge_note}",
                unit="percentunit",
                defaults={"min": 0, "max": 1},
            ),
            12,
            7,
        ),
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
                unit="percentunit",
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
                    prom('sum(cc_analytics_active_users{window="1d"})', "Active users", "A"),
                    prom('sum(cc_analytics_sessions{window="1d"})', "Sessions", "B"),
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
                    prom('sum(cc_analytics_active_users{window="1d"})', "Active users", "A"),
                    prom(f"sum(increase({sel(COST, *f, MODEL)}[$__interval]))", "Spend (USD)", "B"),
                ],
                "Active users today (left axis) and USD spent per interval (right axis).",
                right=["Spend (USD)"],
                right_unit="currencyUSD",
                interval="1h",
            ),
            12,
            8,
        ),
        layout.place(
            panel(
                "table",
                "Spend and lines by member (needs per-member labels)",
                [
                    prom(f"sort_desc(sum by (member) (increase({sel(COST, *f)}[$__range])))", "", "A", instant=True),
                    prom(f"sum by (member) (increase({added}[$__range]))", "", "B", instant=True),
                ],
                "Per member only when the collector exposes the `member` label (metrics.member_labels: true); "
                "otherwise one row for everyone. The exact team table lives in the ClickHouse dashboard.",
            )
            | {
                "transformations": [
                    {"id": "merge", "options": {}},
                    {
                        "id": "organize",
                        "options": {
                            "excludeByName": {"Time": True},
                            "renameByName": {
                                "member": "Member",
                                "Value #A": "Spend (USD)",
                                "Value #B": "Accepted lines",
                            },
                        },
                    },
                ]
            },
            24,
            8,
        ),
    ]


def analytics_variables_clickhouse() -> list[dict[str, Any]]:
    return [
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
        prom_variable("organization", "Organization", f"label_values({SESSIONS}, organization_id)"),
        prom_variable("team", "Team", f"label_values({COST}, team)"),
        prom_variable("model", "Model", f"label_values({COST}, model)"),
        window_variable(),
    ]


def analytics_dashboard() -> dict[str, Any]:
    layout = Layout()
    panels = seed_panels_clickhouse(layout) + usage_panels(layout) + events_panels(layout) + members_panels(layout)
    return dashboard(
        "cc-analytics",
        "Claude Code Analytics",
        "Claude Code usage: the console's views (accepted lines, acceptance rate, activity, spend, team insights) "
        "exact from the ClickHouse rollups, usage counters from Prometheus, API and tool health from the events.",
        panels,
        analytics_variables_clickhouse(),
        tags=("clickhouse", "prometheus"),
    )


def analytics_prometheus_dashboard() -> dict[str, Any]:
    layout = Layout()
    panels = seed_panels_prometheus(layout) + usage_panels(layout)
    panels.append(layout.row("API and tools"))
    panels.append(
        layout.place(
            text_panel(
                "API errors, latency and tool success",
                "These come from Claude Code's events (`api_request`, `api_error`, `tool_result`), which only the "
                "ClickHouse store keeps: see the **Claude Code Analytics** dashboard.",
            ),
            24,
            3,
        )
    )
    return dashboard(
        "cc-analytics-prometheus",
        "Claude Code Analytics (Prometheus only)",
        "The Claude Code Analytics views from Prometheus alone, for collectors on the embedded store that Grafana "
        "cannot reach. Daily figures come from the collector's derived gauges.",
        panels,
        analytics_variables_prometheus(),
        tags=("prometheus",),
    )
