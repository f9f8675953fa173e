-- Totals over the range (whole UTC days): members and sessions are distinct over the whole range, not summed
-- per day: the daily uniqExact states are merged.
SELECT
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
