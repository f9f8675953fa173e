-- Derived gauges of /metrics: code-editing decisions per tool over each window of whole UTC days ending
-- today (today included). Windows as in gauge_totals.sql (fragments/gauge_windows.sql).
SELECT
    w.1 AS window_name,
    tool_name,
    sum(accepts) AS accepts,
    sum(rejects) AS rejects
FROM tool_decisions_daily
-- include: gauge_windows
GROUP BY window_name, tool_name
ORDER BY window_name, tool_name
