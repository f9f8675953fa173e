-- Distinct members of some UTC days of a scope (one organization, or '' for all), from member_daily (the rollup
-- member_day_gaps reads).
SELECT day, toUInt64(count()) AS members
FROM
(
    SELECT day, member_type, member
    FROM member_daily
    WHERE day IN {days:Array(Date)}
      AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
    GROUP BY day, member_type, member
)
GROUP BY day
ORDER BY day
