-- The ids of each team's days, for the console's analytics with a team filter:
--   team_day_ids  per organization, team, UTC day and kind: the members (a 128-bit hash of member type and
--                 member, as uniqExact hashes its two arguments) and the sessions (of their id, as session_days)
--                 seen that day in that team, one row per id once merged.
-- org_daily holds the same ids in uniqExact states, which the engine deserializes element by element (~300 ns
-- each): a team's year took ~50 ms of its ~68 ms there. Its keys here are read in one range of the sorting key
-- and counted with uniqExact per day and for the range at once (~16 ms, bench/README.md).
-- Filled from member_daily and session_hourly by materialized views on them (cascades, as 0008 and 0009), in the
-- same insert as the rollups they read, so a team's day here holds the ids org_daily's states hold. The
-- INSERT … SELECTs backfill a store that already holds those rollups (migrations run at start-up, before any
-- ingest).
CREATE TABLE IF NOT EXISTS team_day_ids
(
    organization_id LowCardinality(String),
    team LowCardinality(String),
    day Date,
    kind Enum8('member' = 1, 'session' = 2),
    id_key UInt128
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (organization_id, team, day, kind, id_key);

CREATE MATERIALIZED VIEW IF NOT EXISTS team_day_ids_from_member_daily TO team_day_ids AS
SELECT
    organization_id,
    team,
    day,
    'member' AS kind,
    reinterpretAsUInt128(sipHash128(toString(member_type), member)) AS id_key
FROM member_daily
GROUP BY organization_id, team, day, id_key;

CREATE MATERIALIZED VIEW IF NOT EXISTS team_day_ids_from_session_hourly TO team_day_ids AS
SELECT
    organization_id,
    team,
    toDate(hour) AS day,
    'session' AS kind,
    reinterpretAsUInt128(sipHash128(session_id)) AS id_key
FROM session_hourly
GROUP BY organization_id, team, day, id_key;

INSERT INTO team_day_ids
SELECT organization_id, team, day, 'member' AS kind,
    reinterpretAsUInt128(sipHash128(toString(member_type), member)) AS id_key
FROM member_daily
GROUP BY organization_id, team, day, id_key;

INSERT INTO team_day_ids
SELECT organization_id, team, toDate(hour) AS day, 'session' AS kind,
    reinterpretAsUInt128(sipHash128(session_id)) AS id_key
FROM session_hourly
GROUP BY organization_id, team, day, id_key;
