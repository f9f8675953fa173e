-- The console's analytics without a team filter over whole UTC days in one pass, when the day summaries cannot
-- answer (console/daysummaries.py): a row per day with activity (`whole_range` = 0) and, from the same rows, one
-- for the whole range (`whole_range` = 1, GROUP BY ROLLUP), from the whole-organization daily rollup (one row
-- per day; a team's days: `team_analytics_days_and_totals`). Members and session ids are merged from uniqExact
-- states, so a member or session seen in several teams or organizations counts once a day, and once over the
-- range. The per-day series reads every day's states anyway: merging them once more into the range's states
-- costs less than a second read, of the monthly rollup or the days again (bench/README.md).
SELECT
    day,
    grouping(day) AS whole_range,
    sum(accepted_lines) AS accepted_lines,
    sum(removed_lines) AS removed_lines,
    -- include: activity_figures
FROM org_daily_all_teams
-- include: range_days
  AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
GROUP BY ROLLUP(day)
ORDER BY whole_range, day
