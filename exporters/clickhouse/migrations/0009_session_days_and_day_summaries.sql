-- Exact distinct members and sessions over long ranges without a pass over every id of the range:
--   session_days      per organization, UTC day and session (a 128-bit hash of its id, the hash uniqExact
--                     itself keys strings by): how many session_hourly rows named it that day. Filled from
--                     session_hourly by a materialized view (a cascade, as 0008), in the same insert.
--   day_rows          per organization and UTC day: the points and events member_daily counted and the rows
--                     session_days took, each filled from that table in the same insert, after it. Both only
--                     grow, and grow with every insert that touches the day: the fingerprints of the day's sets
--                     of members and of sessions.
--   day_summaries     per scope (`organization_id`: one organization, or '' for all) and UTC day: the day's
--                     distinct members and sessions, each by how many days earlier it was last seen (up to
--                     400 days), with the fingerprints they were computed from. Written by the collector
--                     (exporters/clickhouse/summaries.py), read by the console's analytics, which uses a day's
--                     figures only while their fingerprints still match (console/daysummaries.py).
-- The INSERT … SELECTs backfill a store that already holds rollups (migrations run at start-up, before any
-- ingest); session_days is filled before day_rows' views exist, which then sums it once.
CREATE TABLE IF NOT EXISTS session_days
(
    organization_id LowCardinality(String),
    day Date,
    session_key UInt128,
    rows SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (organization_id, day, session_key);

CREATE MATERIALIZED VIEW IF NOT EXISTS session_days_from_hourly TO session_days AS
SELECT
    organization_id,
    toDate(hour) AS day,
    reinterpretAsUInt128(sipHash128(session_id)) AS session_key,
    toUInt64(count()) AS rows
FROM session_hourly
GROUP BY organization_id, day, session_key;

INSERT INTO session_days
SELECT organization_id, toDate(hour) AS day, reinterpretAsUInt128(sipHash128(session_id)) AS session_key,
    toUInt64(count()) AS rows
FROM session_hourly
GROUP BY organization_id, day, session_key;

CREATE TABLE IF NOT EXISTS day_rows
(
    organization_id LowCardinality(String),
    day Date,
    member_rows SimpleAggregateFunction(sum, UInt64),
    session_rows SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
ORDER BY (organization_id, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS day_rows_from_session_days TO day_rows AS
SELECT
    organization_id,
    day,
    toUInt64(0) AS member_rows,
    sum(rows) AS session_rows
FROM session_days
GROUP BY organization_id, day;

CREATE MATERIALIZED VIEW IF NOT EXISTS day_rows_from_member_daily TO day_rows AS
SELECT
    organization_id,
    day,
    toUInt64(sum(points) + sum(events)) AS member_rows,
    toUInt64(0) AS session_rows
FROM member_daily
GROUP BY organization_id, day;

INSERT INTO day_rows
SELECT organization_id, day, toUInt64(sum(member_rows)) AS member_rows, toUInt64(sum(session_rows)) AS session_rows
FROM
(
    SELECT organization_id, day, toUInt64(0) AS member_rows, sum(rows) AS session_rows
    FROM session_days
    GROUP BY organization_id, day
    UNION ALL
    SELECT organization_id, day, toUInt64(sum(points) + sum(events)) AS member_rows, toUInt64(0) AS session_rows
    FROM member_daily
    GROUP BY organization_id, day
)
GROUP BY organization_id, day;

CREATE TABLE IF NOT EXISTS day_summaries
(
    organization_id String,
    day Date,
    computed_at DateTime64(6, 'UTC'),
    member_rows UInt64,
    member_prior_rows UInt64,
    members UInt64,
    member_returning_gaps Array(UInt16),
    member_returning_counts Array(UInt64),
    session_rows UInt64,
    session_prior_rows UInt64,
    sessions UInt64,
    session_returning_gaps Array(UInt16),
    session_returning_counts Array(UInt64)
)
ENGINE = ReplacingMergeTree(computed_at)
ORDER BY (organization_id, day);
