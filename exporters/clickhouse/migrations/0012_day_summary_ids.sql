-- The ids a recent day's summary counted, so that whoever reads or refreshes it next looks up only the ids that
-- arrived since (during live ingest, a new session arrives between any two refreshes), not every id of the day:
--   day_summary_ids   per scope (as day_summaries), UTC day and kind ('members' or 'sessions'): the 128-bit
--                     keys of the ids summaries of that day counted, members as sipHash128(member_type, member)
--                     and sessions as session_days keys them. Written by the collector with the summaries of
--                     today and yesterday (UTC) only, the days live ingest adds to; kept 3 days after their day.
-- A day's ids only grow, so every summary of it counted a subset of the next one's: the keys of a day are the
-- union of what its refreshes wrote, and they are the ids of a summary exactly when they are as many as its count
-- (pdata/day_summaries.py, `with_ids_since_kept`).
CREATE TABLE IF NOT EXISTS day_summary_ids
(
    organization_id String,
    day Date,
    kind LowCardinality(String),
    key UInt128
)
ENGINE = ReplacingMergeTree
ORDER BY (organization_id, day, kind, key)
TTL day + INTERVAL 3 DAY;
