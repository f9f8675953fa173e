-- The per-team daily rollup sorted by team, in small granules:
--   team_daily  per organization, team and day: the columns of org_daily (0003), sorted by (organization_id,
--               team, day) in granules of 64 rows. A team's days are then a few granules, where org_daily
--               (sorted by day, then team, in granules of 8 192 rows: every team of a month in one) made a read of
--               one team deserialize the uniqExact states of every team. Measured on the bench's year
--               (bench/README.md), one team's 365-day analytics took ~26 ms here and ~73 ms from org_daily.
-- A MergeTree's sorting key and granules are fixed when it is created, so the rows move to a new table: its
-- views replace org_daily's (the two from the raw tables, the two cascades that read it), and the rollups the
-- cascades fill are built again from it. Each statement can run again after a crash: the new table is emptied
-- before it is filled, and org_daily is dropped only by the next migration, once this one is recorded.
-- Migrations run at start-up, before any ingest.

DROP VIEW IF EXISTS org_daily_from_points;

DROP VIEW IF EXISTS org_daily_from_events;

DROP VIEW IF EXISTS org_monthly_from_daily;

DROP VIEW IF EXISTS org_daily_all_teams_from_daily;

CREATE TABLE IF NOT EXISTS team_daily
(
    organization_id LowCardinality(String),
    day Date,
    team LowCardinality(String),
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
ORDER BY (organization_id, team, day)
SETTINGS index_granularity = 64;

TRUNCATE TABLE team_daily;

INSERT INTO team_daily
SELECT * FROM org_daily;

CREATE MATERIALIZED VIEW IF NOT EXISTS team_daily_from_points TO team_daily AS
SELECT
    organization_id,
    toDate(time) AS day,
    team,
    sumIf(value, fact = 'lines_added') AS accepted_lines,
    sumIf(value, fact = 'lines_removed') AS removed_lines,
    sumIf(value, fact = 'edit_accept') AS accepts,
    sumIf(value, fact = 'edit_reject') AS rejects,
    sumIf(value, fact = 'cost_usd') AS spend_usd,
    sumIf(value, fact = 'session_start') AS session_starts,
    sumIf(value, fact = 'session_start' AND session_id = '') AS unidentified_session_starts,
    sumIf(value, fact = 'commit') AS commits,
    sumIf(value, fact = 'pull_request') AS pull_requests,
    sumIf(value, fact = 'active_seconds') AS active_seconds,
    toUInt64(count()) AS points,
    toUInt64(0) AS events,
    uniqExactState(toString(member_type), member) AS members,
    uniqExactIfState(session_id, session_id != '') AS sessions
FROM metric_points
GROUP BY organization_id, day, team;

CREATE MATERIALIZED VIEW IF NOT EXISTS team_daily_from_events TO team_daily AS
SELECT
    organization_id,
    toDate(time) AS day,
    team,
    0. AS accepted_lines, 0. AS removed_lines, 0. AS accepts, 0. AS rejects, 0. AS spend_usd,
    0. AS session_starts, 0. AS unidentified_session_starts, 0. AS commits, 0. AS pull_requests,
    0. AS active_seconds,
    toUInt64(0) AS points,
    toUInt64(count()) AS events,
    uniqExactState(toString(member_type), member) AS members,
    uniqExactIfState(session_id, session_id != '') AS sessions
FROM events
GROUP BY organization_id, day, team;

CREATE MATERIALIZED VIEW IF NOT EXISTS org_monthly_from_daily TO org_monthly AS
SELECT
    organization_id,
    toStartOfMonth(day) AS month,
    team,
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
FROM team_daily
GROUP BY organization_id, month, team;

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
FROM team_daily
GROUP BY organization_id, day;

TRUNCATE TABLE org_monthly;

INSERT INTO org_monthly
SELECT organization_id, toStartOfMonth(day) AS month, team, sum(accepted_lines), sum(removed_lines), sum(accepts),
    sum(rejects), sum(spend_usd), sum(session_starts), sum(unidentified_session_starts), sum(commits),
    sum(pull_requests), sum(active_seconds), sum(points), sum(events), uniqExactMergeState(members),
    uniqExactMergeState(sessions)
FROM team_daily
GROUP BY organization_id, month, team;

TRUNCATE TABLE org_daily_all_teams;

INSERT INTO org_daily_all_teams
SELECT organization_id, day, sum(accepted_lines), sum(removed_lines), sum(accepts), sum(rejects), sum(spend_usd),
    sum(session_starts), sum(unidentified_session_starts), sum(commits), sum(pull_requests), sum(active_seconds),
    sum(points), sum(events), uniqExactMergeState(members), uniqExactMergeState(sessions)
FROM team_daily
GROUP BY organization_id, day;
