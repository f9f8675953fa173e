-- The last stored point of cumulative series (start time, raw cumulative value, time) with its arrival, among
-- the points that arrived since `since_ns`; the query adds its own conditions and GROUP BY series_key.
SELECT
    series_key,
    toUnixTimestamp64Nano(argMax(start_time, time)) AS start_ns,
    argMax(cumulative, time) AS value,
    toUnixTimestamp64Nano(max(time)) AS time_ns,
    toUnixTimestamp64Nano(max(received_at)) AS received_ns
FROM metric_points
WHERE temporality = 2
  AND received_at >= fromUnixTimestamp64Nano({since_ns:Int64}, 'UTC')
