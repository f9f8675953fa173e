-- Hourly per-member rollups serve every view: a query costs O(hours × members), never O(points).
-- Materialized views fill them inside the same insert as the raw rows, so they never drift apart.
CREATE TABLE IF NOT EXISTS member_hourly
(
    organization_id LowCardinality(String),
    hour DateTime('UTC'),
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
PARTITION BY toYYYYMM(hour)
ORDER BY (organization_id, hour, member, member_type, team);

CREATE MATERIALIZED VIEW IF NOT EXISTS member_hourly_from_points TO member_hourly AS
SELECT
    organization_id,
    toStartOfHour(time) AS hour,
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
GROUP BY organization_id, hour, member, member_type, team;

CREATE MATERIALIZED VIEW IF NOT EXISTS member_hourly_from_events TO member_hourly AS
SELECT
    organization_id,
    toStartOfHour(time) AS hour,
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
GROUP BY organization_id, hour, member, member_type, team;

-- Code-editing decisions per tool, for the acceptance rate by tool.
CREATE TABLE IF NOT EXISTS tool_decisions_hourly
(
    organization_id LowCardinality(String),
    hour DateTime('UTC'),
    member String,
    member_type LowCardinality(String),
    team LowCardinality(String),
    tool_name LowCardinality(String),
    accepts SimpleAggregateFunction(sum, Float64),
    rejects SimpleAggregateFunction(sum, Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (organization_id, hour, member, member_type, team, tool_name);

CREATE MATERIALIZED VIEW IF NOT EXISTS tool_decisions_hourly_from_points TO tool_decisions_hourly AS
SELECT
    organization_id,
    toStartOfHour(time) AS hour,
    member,
    member_type,
    team,
    tool_name,
    sumIf(value, fact = 'edit_accept') AS accepts,
    sumIf(value, fact = 'edit_reject') AS rejects
FROM metric_points
WHERE fact IN ('edit_accept', 'edit_reject')
GROUP BY organization_id, hour, member, member_type, team, tool_name;

-- Spend and tokens per model, for cost breakdowns.
CREATE TABLE IF NOT EXISTS model_usage_hourly
(
    organization_id LowCardinality(String),
    hour DateTime('UTC'),
    member String,
    member_type LowCardinality(String),
    team LowCardinality(String),
    model LowCardinality(String),
    spend_usd SimpleAggregateFunction(sum, Float64),
    input_tokens SimpleAggregateFunction(sum, Float64),
    output_tokens SimpleAggregateFunction(sum, Float64),
    cache_read_tokens SimpleAggregateFunction(sum, Float64),
    cache_creation_tokens SimpleAggregateFunction(sum, Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (organization_id, hour, member, member_type, team, model);

CREATE MATERIALIZED VIEW IF NOT EXISTS model_usage_hourly_from_points TO model_usage_hourly AS
SELECT
    organization_id,
    toStartOfHour(time) AS hour,
    member,
    member_type,
    team,
    model,
    sumIf(value, fact = 'cost_usd') AS spend_usd,
    sumIf(value, fact = 'tokens_input') AS input_tokens,
    sumIf(value, fact = 'tokens_output') AS output_tokens,
    sumIf(value, fact = 'tokens_cache_read') AS cache_read_tokens,
    sumIf(value, fact = 'tokens_cache_creation') AS cache_creation_tokens
FROM metric_points
WHERE fact IN ('cost_usd', 'tokens_input', 'tokens_output', 'tokens_cache_read', 'tokens_cache_creation')
GROUP BY organization_id, hour, member, member_type, team, model;
