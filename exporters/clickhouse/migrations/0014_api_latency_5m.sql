-- The latency of API requests, which the dashboards' API latency and Model comparison otherwise read as every
-- request's duration_ms (the raw events, and model_team_hourly's array of every duration): at real density
-- ~35 M requests in a week of 10 000 developers, 650–1 000 ms per panel (bench/README.md, "Real density"):
--   api_latency_5m  per organization, five minutes (UTC) and model, for every team together (all_teams = 1,
--                   team '') and for each team (all_teams = 0): api_request events, Σ and max of their
--                   duration_ms, and a DDSketch of the durations (relative error ≤ 1 %).
-- Both kinds of row come from one materialized view (GROUPING SETS; `grouping(team)` is 1 in the set without
-- team), so an insert into `events` pays for one more view and one more part, not two (+ ~4 against + 9 ms of
-- CPU for a 1-row insert). Keyed by all_teams and team first, so that every team's rows or one team's are read
-- alone, in granules of 128 rows: a granule's states are read whole, and in granules of the default 8 192 rows
-- one team's week (~600 states) read ~40 teams' (43 against 9 ms).
-- A DDSketch's quantile q of n values is the value of rank ⌊q × (n − 1)⌋ (from 0, smallest first), within 1 %.
-- Kept over the negated durations and read at q = 1 − p, it gives the duration of rank ⌈p × (n − 1)⌉, which for
-- p = 0.5 and p = 0.95 is always quantileExact's rank ⌊p × n⌋: the panels' percentiles are the exact ones to
-- within 1 % (the p95 of two requests is the slower one, not the faster). Count, mean and maximum stay exact.
-- A state is a few KB whatever the number of requests, so a week is O(thousands) of states for every team
-- together and for each team where the durations were O(tens of millions). Backfilled from the raw events.
-- model_team_hourly's api_request_durations, which nothing reads any more, is dropped, and its views stop
-- computing it (a view still writing that column has it ignored).
CREATE TABLE IF NOT EXISTS api_latency_5m
(
    organization_id LowCardinality(String),
    all_teams UInt8,
    team LowCardinality(String),
    bucket DateTime('UTC'),
    model LowCardinality(String),
    requests SimpleAggregateFunction(sum, UInt64),
    total_duration_ms SimpleAggregateFunction(sum, Float64),
    max_duration_ms SimpleAggregateFunction(max, Float64),
    negated_durations AggregateFunction(quantilesDD(0.01, 0.5, 0.05), Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (organization_id, all_teams, team, bucket, model)
SETTINGS index_granularity = 128;

CREATE MATERIALIZED VIEW IF NOT EXISTS api_latency_5m_from_events TO api_latency_5m AS
SELECT
    organization_id,
    toUInt8(grouping(team)) AS all_teams,
    team,
    toStartOfFiveMinutes(time) AS bucket,
    model,
    count() AS requests,
    sum(duration_ms) AS total_duration_ms,
    max(duration_ms) AS max_duration_ms,
    quantilesDDState(0.01, 0.5, 0.05)(-duration_ms) AS negated_durations
FROM events
WHERE event_name = 'api_request'
GROUP BY GROUPING SETS ((organization_id, bucket, model), (organization_id, team, bucket, model));

-- Backfill: what the raw table already holds, through the same SELECT as the view above.
INSERT INTO api_latency_5m
SELECT organization_id, toUInt8(grouping(team)) AS all_teams, team, toStartOfFiveMinutes(time) AS bucket, model,
    count() AS requests, sum(duration_ms) AS total_duration_ms, max(duration_ms) AS max_duration_ms,
    quantilesDDState(0.01, 0.5, 0.05)(-duration_ms) AS negated_durations
FROM events
WHERE event_name = 'api_request'
GROUP BY GROUPING SETS ((organization_id, bucket, model), (organization_id, team, bucket, model));

-- model_team_hourly keeps its counts; its views stop collecting every duration (each in one statement, so no
-- insert meets a view missing), then the column goes.
ALTER TABLE model_team_hourly_from_events MODIFY QUERY
SELECT
    organization_id,
    toStartOfHour(time) AS hour,
    team,
    model,
    0. AS spend_usd,
    0. AS input_tokens,
    0. AS output_tokens,
    0. AS cache_read_tokens,
    0. AS cache_creation_tokens,
    0. AS accepted_lines,
    countIf(event_name = 'api_request') AS api_requests,
    countIf(event_name = 'api_error') AS api_errors
FROM events
WHERE event_name IN ('api_request', 'api_error')
  AND model != ''
GROUP BY organization_id, hour, team, model;

ALTER TABLE model_team_hourly_from_points MODIFY QUERY
SELECT
    organization_id,
    toStartOfHour(time) AS hour,
    team,
    model,
    sumIf(value, fact = 'cost_usd') AS spend_usd,
    sumIf(value, fact = 'tokens_input') AS input_tokens,
    sumIf(value, fact = 'tokens_output') AS output_tokens,
    sumIf(value, fact = 'tokens_cache_read') AS cache_read_tokens,
    sumIf(value, fact = 'tokens_cache_creation') AS cache_creation_tokens,
    sumIf(value, fact = 'lines_added') AS accepted_lines,
    toUInt64(0) AS api_requests,
    toUInt64(0) AS api_errors
FROM metric_points
WHERE fact IN ('cost_usd', 'tokens_input', 'tokens_output', 'tokens_cache_read', 'tokens_cache_creation',
    'lines_added')
  AND model != ''
GROUP BY organization_id, hour, team, model;

ALTER TABLE model_team_hourly DROP COLUMN IF EXISTS api_request_durations;
