-- Totals over the range (whole UTC days): members and sessions are distinct over the whole range, not summed
-- per day: the uniqExact states are merged. Whole calendar months inside the range are read from the monthly
-- rollup (O(months × teams)), only the days before the first and after the last whole month from the daily one.
WITH
    -- include: range_bounds
SELECT
    sum(accepted_lines) AS accepted_lines,
    sum(removed_lines) AS removed_lines,
    -- include: activity_figures
FROM
(
    SELECT accepted_lines, removed_lines, accepts, rejects, members, sessions, unidentified_session_starts, spend_usd
    FROM org_monthly
    -- include: range_whole_months
      -- include: organization_team_filter
    UNION ALL
    SELECT accepted_lines, removed_lines, accepts, rejects, members, sessions, unidentified_session_starts, spend_usd
    FROM org_daily
    -- include: range_days_outside_months
      -- include: organization_team_filter
)
