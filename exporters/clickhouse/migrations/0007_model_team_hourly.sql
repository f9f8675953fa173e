-- Per-model rollup for the dashboards' Model comparison, which otherwise reads the raw events (API requests,
-- errors, exact latency percentiles) and the raw points (accepted lines per model) of its whole range:
--   model_team_hourly  per organization, hour, team and model (rows with a model only): spend, tokens of all four
--                      types, accepted lines (lines_added), api_request and api_error events, and the duration_ms
--                      of every api_request.
-- Keyed by the panel's filters only (organization, team, model), not by member: O(hours × teams × models) rows.
-- The durations are kept whole (an array merged by concatenation), so quantileExact over the arrays of any range
-- is quantileExact over its requests: the percentiles stay exact. Measured on the bench's year (bench/README.md),
-- reading them this way cost ~10 ms for a week; a (value, count) distribution merged by sumMap took ~57 ms, and
-- ~22 ms merged by grouping the values, for durations that rarely repeat within a team's hour.
-- Lines and spend come from the points, the API figures from the events: one materialized view on each raw
-- table, in the same insert as the raw rows (model_usage_hourly is per member and has no lines, so it is not
-- chained on). The INSERT … SELECT at the end backfills a store that already holds raw rows (migrations run at
-- start-up, before any ingest).
CREATE TABLE IF NOT EXISTS model_team_hourly
(
    organization_id LowCardinality(String),
    hour DateTime('UTC'),
    team LowCardinality(String),
    model LowCardinality(String),
    spend_usd SimpleAggregateFunction(sum, Float64),
    input_tokens SimpleAggregateFunction(sum, Float64),
    output_tokens SimpleAggregateFunction(sum, Float64),
    cache_read_tokens SimpleAggregateFunction(sum, Float64),
    cache_creation_tokens SimpleAggregateFunction(sum, Float64),
    accepted_lines SimpleAggregateFunction(sum, Float64),
    api_requests SimpleAggregateFunction(sum, UInt64),
    api_errors SimpleAggregateFunction(sum, UInt64),
    api_request_durations SimpleAggregateFunction(groupArrayArray, Array(Float64))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (organization_id, hour, team, model);

CREATE MATERIALIZED VIEW IF NOT EXISTS model_team_hourly_from_points TO model_team_hourly AS
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
    toUInt64(0) AS api_errors,
    emptyArrayFloat64() AS api_request_durations
FROM metric_points
WHERE fact IN ('cost_usd', 'tokens_input', 'tokens_output', 'tokens_cache_read', 'tokens_cache_creation',
    'lines_added')
  AND model != ''
GROUP BY organization_id, hour, team, model;

CREATE MATERIALIZED VIEW IF NOT EXISTS model_team_hourly_from_events TO model_team_hourly AS
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
    countIf(event_name = 'api_error') AS api_errors,
    groupArrayIf(duration_ms, event_name = 'api_request') AS api_request_durations
FROM events
WHERE event_name IN ('api_request', 'api_error')
  AND model != ''
GROUP BY organization_id, hour, team, model;

-- Backfill: what the raw tables already hold, through the same SELECTs as the views above (the first one names
-- every column: the UNION's columns are taken by those names, and two unnamed toUInt64(0) would be one).
INSERT INTO model_team_hourly
SELECT * FROM
(
    SELECT organization_id, toStartOfHour(time) AS hour, team, model, sumIf(value, fact = 'cost_usd') AS spend_usd,
        sumIf(value, fact = 'tokens_input') AS input_tokens, sumIf(value, fact = 'tokens_output') AS output_tokens,
        sumIf(value, fact = 'tokens_cache_read') AS cache_read_tokens,
        sumIf(value, fact = 'tokens_cache_creation') AS cache_creation_tokens,
        sumIf(value, fact = 'lines_added') AS accepted_lines, toUInt64(0) AS api_requests, toUInt64(0) AS api_errors,
        emptyArrayFloat64() AS api_request_durations
    FROM metric_points
    WHERE fact IN ('cost_usd', 'tokens_input', 'tokens_output', 'tokens_cache_read', 'tokens_cache_creation',
        'lines_added')
      AND model != ''
    GROUP BY organization_id, hour, team, model
    UNION ALL
    SELECT organization_id, toStartOfHour(time) AS hour, team, model, 0., 0., 0., 0., 0., 0.,
        countIf(event_name = 'api_request'), countIf(event_name = 'api_error'),
        groupArrayIf(duration_ms, event_name = 'api_request')
    FROM events
    WHERE event_name IN ('api_request', 'api_error')
      AND model != ''
    GROUP BY organization_id, hour, team, model
);
