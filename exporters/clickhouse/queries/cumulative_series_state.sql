-- The last stored point of each cumulative series whose last point arrived since `since_ns`, with that arrival:
-- the converter resumes from here after a restart. By arrival, not by the points' own time, so a series
-- stamped in the future is not resumed forever. Most recently arrived first (the converter keeps at most
-- temporality.max_series).
-- include: series_state
GROUP BY series_key
ORDER BY received_ns DESC
