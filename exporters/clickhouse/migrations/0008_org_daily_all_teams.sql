-- Per-day rollup of a whole organization, every team merged, next to the per-team one:
--   org_daily_all_teams  per organization and day: the columns of org_daily, summed over its teams, the
--                        uniqExact states of members and session ids merged (not finalized: still exact when
--                        merged again).
-- The console's per-day series without a team filter (`analytics_days_and_totals`) reads one row per day here instead of
-- one per team and day in org_daily, and so deserializes one state per day instead of one per team and day: a
-- member or session id is read once per day either way, but the per-state cost went with the teams. Measured on
-- the bench's year (bench/README.md), the 30-day series took ~10 ms here and ~25 ms from org_daily.
-- Filled from org_daily by a materialized view on it (a cascade, as the monthly rollups of 0005): the daily rows
-- of an insert are aggregated again over teams in the same insert, so a day here is its teams by construction.
-- The INSERT … SELECT at the end backfills a store that already holds daily rows (migrations run at start-up,
-- before any ingest).
CREATE TABLE IF NOT EXISTS org_daily_all_teams
(
    organization_id LowCardinality(String),
    day Date,
    accepted_lines SimpleAggregateFunction(sum, Float64),
    removed_lines SimpleAggregateFunction(sum, Float64),
    accepts SimpleAggregateFunction(sum, Float64),
    rejects SimpleAggregateFunction(sum, Float64),
    spend_usd SimpleAggregateFunction(sum, Float64),
    session_starts SimpleAggregateFunction(sum, Float64),
    unidentified_session_starts SimpleAggregateFunction(sum, Float64),
    commits SimpleAggregateFunction(sum, Float64),
    pull_requests SimpleAggregateFunction(sum, Float64),
    active_seconds SimpleAggregateFunction(sum, Float64),
    points SimpleAggregateFunction(sum, UInt64),
    events SimpleAggregateFunction(sum, UInt64),
    members AggregateFunction(uniqExact, String, String),
    sessions AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (organization_id, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS org_daily_all_teams_from_daily TO org_daily_all_teams AS
SELECT
    organization_id,
    day,
    sum(accepted_lines) AS accepted_lines,
    sum(removed_lines) AS removed_lines,
    sum(accepts) AS accepts,
    sum(rejects) AS rejects,
    sum(spend_usd) AS spend_usd,
    sum(session_starts) AS session_starts,
    sum(unidentified_session_starts) AS unidentified_session_starts,
    sum(commits) AS commits,
    sum(pull_requests) AS pull_requests,
    sum(active_seconds) AS active_seconds,
    sum(points) AS points,
    sum(events) AS events,
    uniqExactMergeState(members) AS members,
    uniqExactMergeState(sessions) AS sessions
FROM org_daily
GROUP BY organization_id, day;

INSERT INTO org_daily_all_teams
SELECT organization_id, day, sum(accepted_lines), sum(removed_lines), sum(accepts), sum(rejects), sum(spend_usd),
    sum(session_starts), sum(unidentified_session_starts), sum(commits), sum(pull_requests), sum(active_seconds),
    sum(points), sum(events), uniqExactMergeState(members), uniqExactMergeState(sessions)
FROM org_daily
GROUP BY organization_id, day;
