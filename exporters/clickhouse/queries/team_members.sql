-- Team insights: every member active in the range (whole UTC days), by spend. Whole calendar months (a team
-- view's month is one) are read from the per-member monthly rollup, O(members) rows, only the days before the
-- first and after the last whole month from the daily one.
WITH
    -- include: range_bounds
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
    -- include: range_whole_months
      -- include: organization_team_filter
    UNION ALL
    SELECT member, member_type, spend_usd, accepted_lines, sessions, unidentified_session_starts, last_seen
    FROM member_daily
    -- include: range_days_outside_months
      -- include: organization_team_filter
)
GROUP BY member, member_type
ORDER BY spend_usd DESC, member ASC
