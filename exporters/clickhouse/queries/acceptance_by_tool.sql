-- Code-editing decisions per tool over whole UTC days: whole calendar months from the monthly rollup, the days
-- before the first and after the last whole month from the daily one.
WITH
    -- include: range_bounds
SELECT
    tool_name,
    sum(accepts) AS accepts,
    sum(rejects) AS rejects
FROM
(
    SELECT tool_name, accepts, rejects
    FROM tool_decisions_monthly
    -- include: range_whole_months
      -- include: organization_team_filter
    UNION ALL
    SELECT tool_name, accepts, rejects
    FROM tool_decisions_daily
    -- include: range_days_outside_months
      -- include: organization_team_filter
)
GROUP BY tool_name
ORDER BY tool_name
