"""What several rows of the analytics dashboards share: the colours of the ratios, the sizes of the tables, the
organization and team filter of the queries over the rollups, and the filter of the API latency rollup."""

from __future__ import annotations

from generator.grafana import higher_is_better, lower_is_better
from generator.vocabulary import DAYS, EDGE_HOURS, SQL_MODEL, SQL_ORG, SQL_TEAM, t

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

# The organization and team variables of the queries over the rollups.
CH_FILTER = f"{SQL_ORG}\n      AND {SQL_TEAM}"


def days_and_edge_hours(columns: str, daily: str = "team_daily", hourly: str = "member_hourly") -> str:
    """The body of a subquery over the time range's rows, filtered by organization and team: `daily` for its
    whole UTC days, `hourly` for the partial days at its edges (the daily rollup alone would miss them)."""
    return f"""    SELECT {columns} FROM {daily}
    WHERE {DAYS}
      AND {CH_FILTER}
    UNION ALL
    SELECT {columns} FROM {hourly}
    WHERE {EDGE_HOURS}
      AND {CH_FILTER}"""


# --- API latency (migration 0014) -----------------------------------------------------------------------------
# Its rollup is keyed by the start of each five minutes (UTC). FIVE_MINUTES keeps the range's first five minutes
# whole, as the hourly rollups keep their first hour; WHOLE_HOURS reads the same hours as HOURS does.
FIVE_MINUTES = "bucket >= toStartOfFiveMinutes($__fromTime) AND bucket <= $__toTime"
WHOLE_HOURS = "bucket >= toStartOfHour($__fromTime) AND bucket < toStartOfHour($__toTime) + 3600"
# The plugin's $__conditionalAll is `1=1` when the variable's value is All and its first argument otherwise:
# true when every team is selected.
ALL_TEAMS = "$__conditionalAll(0 = 1, $team)"
# [p50, p95] of the durations: the sketches hold them negated, read at 1 − p (0014 says why), within 1 % of the
# exact percentiles.
LATENCY_PERCENTILES = "arrayMap(v -> 0 - v, quantilesDDMerge(0.01, 0.5, 0.05)(negated_durations))"


def api_latency_filter(buckets: str) -> str:
    """The condition on api_latency_5m's rows in `buckets` that follow the organization, team and model
    variables: the rows of every team together when the team variable is All, the selected teams' own rows
    otherwise."""
    return f"""all_teams = ({ALL_TEAMS})
  AND {buckets}
  AND {SQL_ORG}
  AND {SQL_TEAM}
  AND {SQL_MODEL}"""
