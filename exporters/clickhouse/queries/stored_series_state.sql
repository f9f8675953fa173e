-- The last stored point (start time, raw cumulative value, time) of each of the given cumulative series that
-- arrived since `since_ns`, with its arrival: collectors sharing the store (dedup.shared) read it before
-- converting a group's cumulative points, so a series whose exports alternate between replicas still turns
-- into exact deltas. One query per group; the same figures as cumulative_series_state.sql, for named series.
SELECT
    series_key,
    toUnixTimestamp64Nano(argMax(start_time, time)) AS start_ns,
    argMax(cumulative, time) AS value,
    toUnixTimestamp64Nano(max(time)) AS time_ns,
    toUnixTimestamp64Nano(max(received_at)) AS received_ns
FROM metric_points
WHERE temporality = 2
    AND series_key IN (SELECT arrayJoin({keys:Array(UInt64)}))
    AND received_at >= fromUnixTimestamp64Nano({since_ns:Int64}, 'UTC')
GROUP BY series_key
