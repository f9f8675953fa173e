-- Derived gauges of /metrics: code-editing decisions per tool over each window of whole UTC days ending
-- today (today included). Windows as in gauge_totals.sql.
SELECT
    w.1 AS window_name,
    tool_name,
    sum(accepts) AS accepts,
    sum(rejects) AS rejects
FROM tool_decisions_hourly
ARRAY JOIN arrayZip({windows:Array(String)}, {days:Array(UInt16)}) AS w
WHERE hour >= toStartOfDay({now:DateTime('UTC')}) - toIntervalDay(arrayMax({days:Array(UInt16)}) - 1)
  AND hour < toStartOfDay({now:DateTime('UTC')}) + toIntervalDay(1)
  AND hour >= toStartOfDay({now:DateTime('UTC')}) - toIntervalDay(w.2 - 1)
GROUP BY window_name, tool_name
ORDER BY window_name, tool_name
