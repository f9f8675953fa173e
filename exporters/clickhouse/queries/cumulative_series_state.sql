-- The last stored point of each cumulative series: the converter resumes from here after a restart.
SELECT
    series_key,
    toUnixTimestamp64Nano(argMax(start_time, time)) AS start_ns,
    argMax(cumulative, time) AS value,
    toUnixTimestamp64Nano(max(time)) AS time_ns
FROM metric_points
WHERE temporality = 2 AND time >= fromUnixTimestamp64Nano({since_ns:Int64}, 'UTC')
GROUP BY series_key
