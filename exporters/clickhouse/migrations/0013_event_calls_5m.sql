-- Counts of the events the dashboards' API and tool panels show, which otherwise read every api_request,
-- api_error and tool_result event of their range (at real density ~35 M api_request events in a week of
-- 10 000 developers, 290–630 ms per panel: bench/README.md, "Real density"):
--   event_calls_5m  per organization, event name, five minutes, team, model and tool (api_request, api_error and
--                   tool_result events only): events, successful ones (success = 'true'), Σ duration_ms.
-- Five minutes, the API panels' smallest interval, so their series keep it; keyed by the panels' filters, not by
-- member: O(five minutes × teams × (models + tools)) rows. Sums only, so any range of whole five minutes is exact;
-- the latency percentiles are not kept (they need every duration: model_team_hourly, 0007). Filled by a
-- materialized view on `events`, in the same insert as the raw rows; the INSERT … SELECT at the end backfills a
-- store that already holds raw rows (migrations run at start-up, before any ingest).
CREATE TABLE IF NOT EXISTS event_calls_5m
(
    organization_id LowCardinality(String),
    event_name LowCardinality(String),
    bucket DateTime('UTC'),
    team LowCardinality(String),
    model LowCardinality(String),
    tool_name LowCardinality(String),
    events SimpleAggregateFunction(sum, UInt64),
    succeeded SimpleAggregateFunction(sum, UInt64),
    duration_ms SimpleAggregateFunction(sum, Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (organization_id, event_name, bucket, team, model, tool_name);

CREATE MATERIALIZED VIEW IF NOT EXISTS event_calls_5m_from_events TO event_calls_5m AS
SELECT
    organization_id,
    event_name,
    toStartOfFiveMinutes(time) AS bucket,
    team,
    model,
    tool_name,
    count() AS events,
    countIf(success = 'true') AS succeeded,
    sum(duration_ms) AS duration_ms
FROM events
WHERE event_name IN ('api_request', 'api_error', 'tool_result')
GROUP BY organization_id, event_name, bucket, team, model, tool_name;

-- Backfill: what the raw table already holds, through the same SELECT as the view above.
INSERT INTO event_calls_5m
SELECT organization_id, event_name, toStartOfFiveMinutes(time) AS bucket, team, model, tool_name, count() AS events,
    countIf(success = 'true') AS succeeded, sum(duration_ms) AS duration_ms
FROM events
WHERE event_name IN ('api_request', 'api_error', 'tool_result')
GROUP BY organization_id, event_name, bucket, team, model, tool_name;
