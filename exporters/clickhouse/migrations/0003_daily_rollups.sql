-- Daily rollups (UTC days) next to the hourly ones, so a view over whole UTC days costs O(days) or
-- O(days × members) instead of O(hours × members):
--   org_daily             per organization, team, day: the sums plus uniqExact states of members and session
--                         ids (the console's daily series and range totals: merging states keeps "distinct over
--                         the whole range" exact).
--   member_daily          per organization, day, member: as member_hourly (team insights, the report, panels).
--   tool_decisions_daily  per organization, team, day, tool: accepts and rejects.
-- The hourly rollups stay: a day cut in a viewer's time zone, or a range starting mid-day, reads them.
-- Materialized views fill these in the same insert as the raw rows, like 0002; the INSERT … SELECT at the end
-- backfills a store that already holds raw rows (migrations run at start-up, before any ingest).
CREATE TABLE IF NOT EXISTS org_daily
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
ORDER BY (organization_id, day, team);

CREATE MATERIALIZED VIEW IF NOT EXISTS org_daily_from_points TO org_daily AS
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

CREATE MATERIALIZED VIEW IF NOT EXISTS org_daily_from_events TO org_daily AS
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

CREATE TABLE IF NOT EXISTS member_daily
(
    organization_id LowCardinality(String),
    day Date,
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
PARTITION BY toYYYYMM(day)
ORDER BY (organization_id, day, member, member_type, team);

CREATE MATERIALIZED VIEW IF NOT EXISTS member_daily_from_points TO member_daily AS
SELECT
    organization_id,
    toDate(time) AS day,
    member,
    member_type,
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
    sumIf(value, fact = 'tokens_input') AS input_tokens,
    sumIf(value, fact = 'tokens_output') AS output_tokens,
    sumIf(value, fact = 'tokens_cache_read') AS cache_read_tokens,
    sumIf(value, fact = 'tokens_cache_creation') AS cache_creation_tokens,
    toUInt64(count()) AS points,
    toUInt64(0) AS events,
    max(toDateTime64(time, 3, 'UTC')) AS last_seen,
    uniqExactIfState(session_id, session_id != '') AS sessions
FROM metric_points
GROUP BY organization_id, day, member, member_type, team;

CREATE MATERIALIZED VIEW IF NOT EXISTS member_daily_from_events TO member_daily AS
SELECT
    organization_id,
    toDate(time) AS day,
    member,
    member_type,
    team,
    0. AS accepted_lines, 0. AS removed_lines, 0. AS accepts, 0. AS rejects, 0. AS spend_usd,
    0. AS session_starts, 0. AS unidentified_session_starts, 0. AS commits, 0. AS pull_requests,
    0. AS active_seconds, 0. AS input_tokens, 0. AS output_tokens, 0. AS cache_read_tokens,
    0. AS cache_creation_tokens,
    toUInt64(0) AS points,
    toUInt64(count()) AS events,
    max(toDateTime64(time, 3, 'UTC')) AS last_seen,
    uniqExactIfState(session_id, session_id != '') AS sessions
FROM events
GROUP BY organization_id, day, member, member_type, team;

CREATE TABLE IF NOT EXISTS tool_decisions_daily
(
    organization_id LowCardinality(String),
    day Date,
    team LowCardinality(String),
    tool_name LowCardinality(String),
    accepts SimpleAggregateFunction(sum, Float64),
    rejects SimpleAggregateFunction(sum, Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (organization_id, day, team, tool_name);

CREATE MATERIALIZED VIEW IF NOT EXISTS tool_decisions_daily_from_points TO tool_decisions_daily AS
SELECT
    organization_id,
    toDate(time) AS day,
    team,
    tool_name,
    sumIf(value, fact = 'edit_accept') AS accepts,
    sumIf(value, fact = 'edit_reject') AS rejects
FROM metric_points
WHERE fact IN ('edit_accept', 'edit_reject')
GROUP BY organization_id, day, team, tool_name;

-- Backfill: what the raw tables already hold, through the same SELECTs as the views above.
INSERT INTO org_daily
SELECT * FROM
(
    SELECT organization_id, toDate(time) AS day, team,
        sumIf(value, fact = 'lines_added') AS accepted_lines, sumIf(value, fact = 'lines_removed') AS removed_lines,
        sumIf(value, fact = 'edit_accept') AS accepts, sumIf(value, fact = 'edit_reject') AS rejects,
        sumIf(value, fact = 'cost_usd') AS spend_usd, sumIf(value, fact = 'session_start') AS session_starts,
        sumIf(value, fact = 'session_start' AND session_id = '') AS unidentified_session_starts,
        sumIf(value, fact = 'commit') AS commits, sumIf(value, fact = 'pull_request') AS pull_requests,
        sumIf(value, fact = 'active_seconds') AS active_seconds, toUInt64(count()) AS points,
        toUInt64(0) AS events, uniqExactState(toString(member_type), member) AS members,
        uniqExactIfState(session_id, session_id != '') AS sessions
    FROM metric_points
    GROUP BY organization_id, day, team
    UNION ALL
    SELECT organization_id, toDate(time) AS day, team, 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., toUInt64(0),
        toUInt64(count()), uniqExactState(toString(member_type), member),
        uniqExactIfState(session_id, session_id != '')
    FROM events
    GROUP BY organization_id, day, team
);

INSERT INTO member_daily
SELECT * FROM
(
    SELECT organization_id, toDate(time) AS day, member, member_type, team,
        sumIf(value, fact = 'lines_added') AS accepted_lines, sumIf(value, fact = 'lines_removed') AS removed_lines,
        sumIf(value, fact = 'edit_accept') AS accepts, sumIf(value, fact = 'edit_reject') AS rejects,
        sumIf(value, fact = 'cost_usd') AS spend_usd, sumIf(value, fact = 'session_start') AS session_starts,
        sumIf(value, fact = 'session_start' AND session_id = '') AS unidentified_session_starts,
        sumIf(value, fact = 'commit') AS commits, sumIf(value, fact = 'pull_request') AS pull_requests,
        sumIf(value, fact = 'active_seconds') AS active_seconds, sumIf(value, fact = 'tokens_input') AS input_tokens,
        sumIf(value, fact = 'tokens_output') AS output_tokens,
        sumIf(value, fact = 'tokens_cache_read') AS cache_read_tokens,
        sumIf(value, fact = 'tokens_cache_creation') AS cache_creation_tokens,
        toUInt64(count()) AS points, toUInt64(0) AS events, max(toDateTime64(time, 3, 'UTC')) AS last_seen,
        uniqExactIfState(session_id, session_id != '') AS sessions
    FROM metric_points
    GROUP BY organization_id, day, member, member_type, team
    UNION ALL
    SELECT organization_id, toDate(time) AS day, member, member_type, team, 0., 0., 0., 0., 0., 0., 0., 0., 0., 0.,
        0., 0., 0., 0., toUInt64(0), toUInt64(count()), max(toDateTime64(time, 3, 'UTC')),
        uniqExactIfState(session_id, session_id != '')
    FROM events
    GROUP BY organization_id, day, member, member_type, team
);

INSERT INTO tool_decisions_daily
SELECT organization_id, toDate(time) AS day, team, tool_name,
    sumIf(value, fact = 'edit_accept') AS accepts, sumIf(value, fact = 'edit_reject') AS rejects
FROM metric_points
WHERE fact IN ('edit_accept', 'edit_reject')
GROUP BY organization_id, day, team, tool_name;
