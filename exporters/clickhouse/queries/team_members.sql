-- Team insights: every member active in the range (whole UTC days), by spend. Whole calendar months (a team
-- view's month is one) are read from the per-member monthly rollup, O(members) rows, only the days before the
-- first and after the last whole month from the daily one.
WITH
    toDate({start:DateTime('UTC')}) AS first_day,
    toDate({end:DateTime('UTC')}) AS end_day,
    if(toDayOfMonth(first_day) = 1, first_day, addMonths(toStartOfMonth(first_day), 1)) AS first_month,
    toStartOfMonth(end_day) AS end_month
SELECT
    member,
    member_type,
    sum(spend_usd) AS spend_usd,
    sum(accepted_lines) AS accepted_lines,
    uniqExactMerge(sessions) + toUInt64(sum(unidentified_session_starts)) AS sessions,
    -- as the API shows it (ISO 8601 in UTC, the milliseconds as microseconds when there are any), so the read
    -- model does not turn thousands of datetimes into strings one by one
    concat(
        formatDateTime(max(last_seen), '%Y-%m-%dT%H:%i:%S', 'UTC'),
        if(toUnixTimestamp64Milli(max(last_seen)) % 1000 = 0, '',
           concat('.', leftPad(toString(toUnixTimestamp64Milli(max(last_seen)) % 1000), 3, '0'), '000')),
        'Z'
    ) AS last_active
FROM
(
    SELECT member, member_type, spend_usd, accepted_lines, sessions, unidentified_session_starts, last_seen
    FROM member_monthly
    WHERE month >= first_month
      AND month < end_month
      AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
      AND ({team:String} = '' OR team = {team:String})
    UNION ALL
    SELECT member, member_type, spend_usd, accepted_lines, sessions, unidentified_session_starts, last_seen
    FROM member_daily
    WHERE day >= first_day
      AND day < end_day
      AND (day < first_month OR day >= end_month)
      AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
      AND ({team:String} = '' OR team = {team:String})
)
GROUP BY member, member_type
ORDER BY spend_usd DESC, member ASC
