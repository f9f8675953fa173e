-- The last stored point (start time, raw cumulative value, time) of each of the given cumulative series that
-- arrived since `since_ns`, with its arrival: collectors sharing the store (dedup.shared) read it before
-- converting a group's cumulative points, so a series whose exports alternate between replicas still turns
-- into exact deltas. One query per group; the same figures as cumulative_series_state.sql, for named series.
-- include: series_state
  AND series_key IN (SELECT arrayJoin({keys:Array(UInt64)}))
GROUP BY series_key
