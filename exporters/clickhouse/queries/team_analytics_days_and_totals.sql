-- The console's analytics of one team over whole UTC days: the rows of `analytics_days_and_totals` (a row per day
-- with activity, `whole_range` = 0, and one for the range, `whole_range` = 1, GROUP BY ROLLUP). The sums come
-- from the team's rows of the per-team daily rollup; its distinct members and sessions, per day and over the
-- range, from the team's ids in team_day_ids, one read of a range of its sorting key, instead of the rollup's
-- uniqExact states (bench/README.md). A member or session seen in several organizations counts once.
SELECT
    sums.day AS day,
    sums.whole_range AS whole_range,
    accepted_lines,
    removed_lines,
    accepts,
    rejects,
    ids.members AS active_users,
    ids.sessions + sums.unidentified_session_starts AS sessions,
    spend_usd
FROM
(
    SELECT
        -- include: day_sums
    FROM org_daily
    -- include: range_days
      -- include: organization_team_filter
    GROUP BY ROLLUP(day)
) AS sums
LEFT JOIN
(
    SELECT
        day,
        grouping(day) AS whole_range,
        uniqExactIf(id_key, kind = 'member') AS members,
        uniqExactIf(id_key, kind = 'session') AS sessions
    FROM team_day_ids
    -- include: range_days
      -- include: organization_team_filter
    GROUP BY ROLLUP(day)
) AS ids ON sums.day = ids.day AND sums.whole_range = ids.whole_range
ORDER BY whole_range, day
