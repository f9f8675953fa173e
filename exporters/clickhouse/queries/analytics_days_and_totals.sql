-- The console's analytics over whole UTC days in one pass: a row per day with activity (`whole_range` = 0) and,
-- from the same rows, one for the whole range (`whole_range` = 1, GROUP BY ROLLUP). Without a team filter the
-- days come from the whole-organization daily rollup (one row per day), with it from the per-team one (a row per
-- team and day); the parameter is a constant, so the other table's part reads nothing. Members and session ids
-- are merged from uniqExact states, so a member or session seen in several teams or organizations counts once a
-- day, and once over the range. The per-day series reads every day's states anyway: merging them once more into
-- the range's states costs less than a second read, of the monthly rollup or the days again (bench/README.md).
SELECT
    day,
    grouping(day) AS whole_range,
    sum(accepted_lines) AS accepted_lines,
    sum(removed_lines) AS removed_lines,
    -- include: activity_figures
FROM
(
    SELECT day, accepted_lines, removed_lines, accepts, rejects, members, sessions, unidentified_session_starts,
        spend_usd
    FROM org_daily_all_teams
    -- include: range_days
      AND {team:String} = ''
      AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
    UNION ALL
    SELECT day, accepted_lines, removed_lines, accepts, rejects, members, sessions, unidentified_session_starts,
        spend_usd
    FROM team_daily
    -- include: range_days
      AND {team:String} != ''
      -- include: organization_team_filter
)
GROUP BY ROLLUP(day)
ORDER BY whole_range, day
