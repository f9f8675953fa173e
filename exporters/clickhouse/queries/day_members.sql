-- Distinct members of some UTC days of a scope (one organization, or '' for all), from the days' uniqExact states.
SELECT day, uniqExactMerge(members) AS members
FROM org_daily_all_teams
WHERE day IN {days:Array(Date)}
  AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
GROUP BY day
ORDER BY day
