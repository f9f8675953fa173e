-- Distinct members over a range of whole UTC days of a scope (one organization, or '' for all): the whole
-- calendar months from the monthly rollup, only the days around them from the daily one.
WITH
    -- include: range_bounds
SELECT uniqExactMerge(members) AS active_users
FROM
(
    SELECT members
    FROM org_monthly
    -- include: range_whole_months
      AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
    UNION ALL
    SELECT members
    FROM org_daily_all_teams
    -- include: range_days_outside_months
      AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
)
