-- Derived gauges of /metrics: code-editing decisions per tool over each window of whole UTC days ending
-- today (today included). Windows as in gauge_totals.sql.
SELECT
    w.1 AS window_name,
    tool_name,
    sum(accepts) AS accepts,
    sum(rejects) AS rejects
FROM tool_decisions_daily
ARRAY JOIN arrayZip({windows:Array(String)}, {days:Array(UInt16)}) AS w
WHERE day >= toDate({now:DateTime('UTC')}) - (arrayMax({days:Array(UInt16)}) - 1)
  AND day <= toDate({now:DateTime('UTC')})
  AND day >= toDate({now:DateTime('UTC')}) - (w.2 - 1)
GROUP BY window_name, tool_name
ORDER BY window_name, tool_name
