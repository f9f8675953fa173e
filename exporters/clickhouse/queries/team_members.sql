-- Team insights: every member active in the range (whole UTC days), by spend, from the per-member daily rollup.
SELECT
    member,
    member_type,
    sum(spend_usd) AS spend_usd,
    sum(accepted_lines) AS accepted_lines,
    uniqExactMerge(sessions) + toUInt64(sum(unidentified_session_starts)) AS sessions,
    max(last_seen) AS last_active
FROM member_daily
WHERE day >= toDate({start:DateTime('UTC')})
  AND day < toDate({end:DateTime('UTC')})
  AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
  AND ({team:String} = '' OR team = {team:String})
GROUP BY member, member_type
ORDER BY spend_usd DESC, member ASC
