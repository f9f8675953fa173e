-- The columns of the console's per-day sums over daily rollup rows, after a SELECT and before a GROUP BY
-- ROLLUP(day): the day (`whole_range` = 1 on the range's row), the lines, decisions, sessions without an id
-- and spend (`analytics_day_sums`, `team_analytics_days_and_totals`).
day,
grouping(day) AS whole_range,
sum(accepted_lines) AS accepted_lines,
sum(removed_lines) AS removed_lines,
sum(accepts) AS accepts,
sum(rejects) AS rejects,
toUInt64(sum(unidentified_session_starts)) AS unidentified_session_starts,
sum(spend_usd) AS spend_usd
