-- One row per UTC day with activity: the console's daily series, from the per-organization/team daily rollup
-- (O(days × teams)). Members and session ids are merged from uniqExact states, so a member or session seen
-- in several teams or organizations that day counts once.
SELECT
    day,
    sum(accepted_lines) AS accepted_lines,
    sum(removed_lines) AS removed_lines,
    sum(accepts) AS accepts,
    sum(rejects) AS rejects,
    uniqExactMerge(members) AS active_users,
    uniqExactMerge(sessions) + toUInt64(sum(unidentified_session_starts)) AS sessions,
    sum(spend_usd) AS spend_usd
FROM org_daily
WHERE day >= toDate({start:DateTime('UTC')})
  AND day < toDate({end:DateTime('UTC')})
  AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
  AND ({team:String} = '' OR team = {team:String})
GROUP BY day
ORDER BY day
