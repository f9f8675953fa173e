-- Derived gauges of /metrics: the console's totals over each window of whole UTC days ending today (today
-- included), one row per window. Windows are parallel arrays: names ('1d', '7d', '30d') and days (1, 7, 30).
-- Members and sessions are distinct over the whole window, as in analytics_totals (daily rollup).
SELECT
    w.1 AS window_name,
    sum(accepted_lines) AS accepted_lines,
    -- include: activity_figures
FROM team_daily
-- include: gauge_windows
GROUP BY window_name
ORDER BY window_name
