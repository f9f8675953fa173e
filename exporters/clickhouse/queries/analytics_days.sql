-- One row per UTC day with activity: the console's daily series, from the per-organization/team daily rollup
-- (O(days × teams)). Members and session ids are merged from uniqExact states, so a member or session seen
-- in several teams or organizations that day counts once.
SELECT
    day,
    sum(accepted_lines) AS accepted_lines,
    sum(removed_lines) AS removed_lines,
    -- include: activity_figures
FROM org_daily
-- include: range_days
  -- include: organization_team_filter
GROUP BY day
ORDER BY day
