-- The console's analytics over whole UTC days of a scope (one organization, or '' for all), without a team
-- filter, when its distinct members and sessions come from day_summaries (console/daysummaries.py): the sums
-- of each day with activity (`whole_range` = 0) and of the range (`whole_range` = 1). No uniqExact state is read.
SELECT
    -- include: day_sums
FROM org_daily_all_teams
-- include: range_days
  AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
GROUP BY ROLLUP(day)
ORDER BY whole_range, day
