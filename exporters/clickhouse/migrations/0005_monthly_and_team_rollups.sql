-- Monthly rollups (UTC calendar months, keyed by the month's first day) next to the daily ones, so a range of
-- whole months costs O(months) or O(months × members) rows, and only its partial first and last month read the
-- daily rollups:
--   org_monthly             per organization, team, month: the columns of org_daily (sums and the uniqExact
--                           states of members and session ids, so distinct counts over a year stay exact).
--   member_monthly          per organization, month, member: the columns of member_daily (team insights).
--   tool_decisions_monthly  per organization, team, month, tool: accepts and rejects.
-- Each is filled from its daily rollup by a materialized view on it: the daily views' rows of an insert are
-- aggregated again by month in the same insert, so a month is the sum (and the merged states) of its days by
-- construction.
--   tool_decisions_team_hourly  per organization, team, hour, tool: accepts and rejects, filled the same way from
--                               tool_decisions_hourly (per member), so the partial first and last day of a
--                               dashboard range read O(hours × teams) rows instead of O(hours × members).
-- The INSERT … SELECTs at the end backfill a store that already holds rollup rows (migrations run at start-up,
-- before any ingest).
CREATE TABLE IF NOT EXISTS org_monthly
(
    organization_id LowCardinality(String),
    month Date,
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
PARTITION BY toYear(month)
ORDER BY (organization_id, month, team);

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
FROM org_daily
GROUP BY organization_id, month, team;

CREATE TABLE IF NOT EXISTS member_monthly
(
    organization_id LowCardinality(String),
    month Date,
    member String,
    member_type LowCardinality(String),
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
    input_tokens SimpleAggregateFunction(sum, Float64),
    output_tokens SimpleAggregateFunction(sum, Float64),
    cache_read_tokens SimpleAggregateFunction(sum, Float64),
    cache_creation_tokens SimpleAggregateFunction(sum, Float64),
    points SimpleAggregateFunction(sum, UInt64),
    events SimpleAggregateFunction(sum, UInt64),
    last_seen SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    sessions AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYear(month)
ORDER BY (organization_id, month, member, member_type, team);

CREATE MATERIALIZED VIEW IF NOT EXISTS member_monthly_from_daily TO member_monthly AS
SELECT
    organization_id,
    toStartOfMonth(day) AS month,
    member,
    member_type,
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
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_creation_tokens) AS cache_creation_tokens,
    sum(points) AS points,
    sum(events) AS events,
    max(last_seen) AS last_seen,
    uniqExactMergeState(sessions) AS sessions
FROM member_daily
GROUP BY organization_id, month, member, member_type, team;

CREATE TABLE IF NOT EXISTS tool_decisions_monthly
(
    organization_id LowCardinality(String),
    month Date,
    team LowCardinality(String),
    tool_name LowCardinality(String),
    accepts SimpleAggregateFunction(sum, Float64),
    rejects SimpleAggregateFunction(sum, Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYear(month)
ORDER BY (organization_id, month, team, tool_name);

CREATE MATERIALIZED VIEW IF NOT EXISTS tool_decisions_monthly_from_daily TO tool_decisions_monthly AS
SELECT
    organization_id,
    toStartOfMonth(day) AS month,
    team,
    tool_name,
    sum(accepts) AS accepts,
    sum(rejects) AS rejects
FROM tool_decisions_daily
GROUP BY organization_id, month, team, tool_name;

CREATE TABLE IF NOT EXISTS tool_decisions_team_hourly
(
    organization_id LowCardinality(String),
    hour DateTime('UTC'),
    team LowCardinality(String),
    tool_name LowCardinality(String),
    accepts SimpleAggregateFunction(sum, Float64),
    rejects SimpleAggregateFunction(sum, Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (organization_id, hour, team, tool_name);

CREATE MATERIALIZED VIEW IF NOT EXISTS tool_decisions_team_hourly_from_hourly TO tool_decisions_team_hourly AS
SELECT
    organization_id,
    hour,
    team,
    tool_name,
    sum(accepts) AS accepts,
    sum(rejects) AS rejects
FROM tool_decisions_hourly
GROUP BY organization_id, hour, team, tool_name;

-- Backfill: what the finer rollups already hold, through the same SELECTs as the views above.
INSERT INTO org_monthly
SELECT organization_id, toStartOfMonth(day) AS month, team, sum(accepted_lines), sum(removed_lines), sum(accepts),
    sum(rejects), sum(spend_usd), sum(session_starts), sum(unidentified_session_starts), sum(commits),
    sum(pull_requests), sum(active_seconds), sum(points), sum(events), uniqExactMergeState(members),
    uniqExactMergeState(sessions)
FROM org_daily
GROUP BY organization_id, month, team;

INSERT INTO member_monthly
SELECT organization_id, toStartOfMonth(day) AS month, member, member_type, team, sum(accepted_lines),
    sum(removed_lines), sum(accepts), sum(rejects), sum(spend_usd), sum(session_starts),
    sum(unidentified_session_starts), sum(commits), sum(pull_requests), sum(active_seconds), sum(input_tokens),
    sum(output_tokens), sum(cache_read_tokens), sum(cache_creation_tokens), sum(points), sum(events),
    max(last_seen), uniqExactMergeState(sessions)
FROM member_daily
GROUP BY organization_id, month, member, member_type, team;

INSERT INTO tool_decisions_monthly
SELECT organization_id, toStartOfMonth(day) AS month, team, tool_name, sum(accepts), sum(rejects)
FROM tool_decisions_daily
GROUP BY organization_id, month, team, tool_name;

INSERT INTO tool_decisions_team_hourly
SELECT organization_id, hour, team, tool_name, sum(accepts), sum(rejects)
FROM tool_decisions_hourly
GROUP BY organization_id, hour, team, tool_name;
