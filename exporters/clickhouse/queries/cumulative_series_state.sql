-- The last stored point of each cumulative series whose last point arrived since `since_ns`, with that arrival:
-- the converter resumes from here after a restart. By arrival, not by the points' own time, so a series
-- stamped in the future is not resumed forever. Most recently arrived first (the converter keeps at most
-- temporality.max_series).
SELECT
    series_key,
    toUnixTimestamp64Nano(argMax(start_time, time)) AS start_ns,
    argMax(cumulative, time) AS value,
    toUnixTimestamp64Nano(max(time)) AS time_ns,
    toUnixTimestamp64Nano(max(received_at)) AS received_ns
FROM metric_points
WHERE temporality = 2 AND received_at >= fromUnixTimestamp64Nano({since_ns:Int64}, 'UTC')
GROUP BY series_key
ORDER BY received_ns DESC
