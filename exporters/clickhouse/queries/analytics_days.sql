-- One row per UTC day with activity: the seed's daily series.
SELECT
    toDate(hour) AS day,
    sum(accepted_lines) AS accepted_lines,
    sum(removed_lines) AS removed_lines,
    sum(accepts) AS accepts,
    sum(rejects) AS rejects,
    uniqExact(member_type, member) AS active_users,
    uniqExactMerge(sessions) + toUInt64(sum(unidentified_session_starts)) AS sessions,
    sum(spend_usd) AS spend_usd
FROM member_hourly
WHERE hour >= {start:DateTime('UTC')}
  AND hour < {end:DateTime('UTC')}
  AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
  AND ({team:String} = '' OR team = {team:String})
GROUP BY day
ORDER BY day
