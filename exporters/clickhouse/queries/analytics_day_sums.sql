-- The console's analytics over whole UTC days of a scope (one organization, or '' for all), without a team
-- filter, when its distinct members and sessions come from day_summaries (console/daysummaries.py): the sums
-- of each day with activity (`whole_range` = 0) and of the range (`whole_range` = 1). No uniqExact state is read.
SELECT
    day,
    grouping(day) AS whole_range,
    sum(accepted_lines) AS accepted_lines,
    sum(removed_lines) AS removed_lines,
    sum(accepts) AS accepts,
    sum(rejects) AS rejects,
    toUInt64(sum(unidentified_session_starts)) AS unidentified_session_starts,
    sum(spend_usd) AS spend_usd
FROM org_daily_all_teams
-- include: range_days
  AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
GROUP BY ROLLUP(day)
ORDER BY whole_range, day
