-- Per-session rollup for the dashboards' session tables (Priciest sessions, Top sessions by accepted lines),
-- which otherwise group every raw point and event of their range by session id:
--   session_hourly  per organization, hour, team, member and session id (sessions with an id only): spend,
--                   tokens of all four types, accepted lines, user prompts, and the first and last record's time.
-- No existing rollup keeps session ids as a key (their uniqExact states hold them, but cannot be split by id),
-- so it is filled from the raw tables by one materialized view on each, in the same insert as the raw rows.
-- The INSERT … SELECT at the end backfills a store that already holds raw rows (migrations run at start-up,
-- before any ingest).
CREATE TABLE IF NOT EXISTS session_hourly
(
    organization_id LowCardinality(String),
    hour DateTime('UTC'),
    session_id String,
    member String,
    team LowCardinality(String),
    spend_usd SimpleAggregateFunction(sum, Float64),
    tokens SimpleAggregateFunction(sum, Float64),
    accepted_lines SimpleAggregateFunction(sum, Float64),
    prompts SimpleAggregateFunction(sum, UInt64),
    first_seen SimpleAggregateFunction(min, DateTime64(9, 'UTC')),
    last_seen SimpleAggregateFunction(max, DateTime64(9, 'UTC'))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (organization_id, hour, session_id, member, team);

CREATE MATERIALIZED VIEW IF NOT EXISTS session_hourly_from_points TO session_hourly AS
SELECT
    organization_id,
    toStartOfHour(time) AS hour,
    session_id,
    member,
    team,
    sumIf(value, fact = 'cost_usd') AS spend_usd,
    sumIf(value, startsWith(fact, 'tokens_')) AS tokens,
    sumIf(value, fact = 'lines_added') AS accepted_lines,
    toUInt64(0) AS prompts,
    min(time) AS first_seen,
    max(time) AS last_seen
FROM metric_points
WHERE session_id != ''
GROUP BY organization_id, hour, session_id, member, team;

CREATE MATERIALIZED VIEW IF NOT EXISTS session_hourly_from_events TO session_hourly AS
SELECT
    organization_id,
    toStartOfHour(time) AS hour,
    session_id,
    member,
    team,
    0. AS spend_usd,
    0. AS tokens,
    0. AS accepted_lines,
    toUInt64(countIf(event_name = 'user_prompt')) AS prompts,
    min(time) AS first_seen,
    max(time) AS last_seen
FROM events
WHERE session_id != ''
GROUP BY organization_id, hour, session_id, member, team;

-- Backfill: what the raw tables already hold, through the same SELECTs as the views above.
INSERT INTO session_hourly
SELECT * FROM
(
    SELECT organization_id, toStartOfHour(time) AS hour, session_id, member, team,
        sumIf(value, fact = 'cost_usd') AS spend_usd, sumIf(value, startsWith(fact, 'tokens_')) AS tokens,
        sumIf(value, fact = 'lines_added') AS accepted_lines, toUInt64(0) AS prompts, min(time) AS first_seen,
        max(time) AS last_seen
    FROM metric_points
    WHERE session_id != ''
    GROUP BY organization_id, hour, session_id, member, team
    UNION ALL
    SELECT organization_id, toStartOfHour(time) AS hour, session_id, member, team, 0., 0., 0.,
        toUInt64(countIf(event_name = 'user_prompt')), min(time), max(time)
    FROM events
    WHERE session_id != ''
    GROUP BY organization_id, hour, session_id, member, team
);
