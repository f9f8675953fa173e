-- Totals over the range (whole UTC days): members and sessions are distinct over the whole range, not summed
-- per day: the uniqExact states are merged. Whole calendar months inside the range are read from the monthly
-- rollup (O(months × teams)), only the days before the first and after the last whole month from the daily one.
WITH
    toDate({start:DateTime('UTC')}) AS first_day,
    toDate({end:DateTime('UTC')}) AS end_day,
    if(toDayOfMonth(first_day) = 1, first_day, addMonths(toStartOfMonth(first_day), 1)) AS first_month,
    toStartOfMonth(end_day) AS end_month
SELECT
    sum(accepted_lines) AS accepted_lines,
    sum(removed_lines) AS removed_lines,
    sum(accepts) AS accepts,
    sum(rejects) AS rejects,
    uniqExactMerge(members) AS active_users,
    uniqExactMerge(sessions) + toUInt64(sum(unidentified_session_starts)) AS sessions,
    sum(spend_usd) AS spend_usd
FROM
(
    SELECT accepted_lines, removed_lines, accepts, rejects, members, sessions, unidentified_session_starts, spend_usd
    FROM org_monthly
    WHERE month >= first_month
      AND month < end_month
      AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
      AND ({team:String} = '' OR team = {team:String})
    UNION ALL
    SELECT accepted_lines, removed_lines, accepts, rejects, members, sessions, unidentified_session_starts, spend_usd
    FROM org_daily
    WHERE day >= first_day
      AND day < end_day
      AND (day < first_month OR day >= end_month)
      AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
      AND ({team:String} = '' OR team = {team:String})
)
