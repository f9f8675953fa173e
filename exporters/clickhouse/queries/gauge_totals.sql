-- Derived gauges of /metrics: the console's totals over each window of whole UTC days ending today (today
-- included), one row per window. Windows are parallel arrays: names ('1d', '7d', '30d') and days (1, 7, 30).
-- Members and sessions are distinct over the whole window, as in analytics_totals (daily rollup).
SELECT
    w.1 AS window_name,
    sum(accepted_lines) AS accepted_lines,
    sum(accepts) AS accepts,
    sum(rejects) AS rejects,
    uniqExactMerge(members) AS active_users,
    uniqExactMerge(sessions) + toUInt64(sum(unidentified_session_starts)) AS sessions,
    sum(spend_usd) AS spend_usd
FROM org_daily
ARRAY JOIN arrayZip({windows:Array(String)}, {days:Array(UInt16)}) AS w
WHERE day >= toDate({now:DateTime('UTC')}) - (arrayMax({days:Array(UInt16)}) - 1)
  AND day <= toDate({now:DateTime('UTC')})
  AND day >= toDate({now:DateTime('UTC')}) - (w.2 - 1)
GROUP BY window_name
ORDER BY window_name
