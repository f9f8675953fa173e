-- After a SELECT of of_day.member_type, of_day.member and earlier.previous: each member of a scope's UTC day
-- with the last day before it, at or after `since`, it was active on (1970-01-01, the default, when none).
FROM
(
    SELECT DISTINCT member_type, member
    FROM member_daily
    WHERE day = {day:Date}
      AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
) AS of_day
LEFT JOIN
(
    SELECT member_type, member, max(day) AS previous
    FROM member_daily
    WHERE day >= {since:Date}
      AND day < {day:Date}
      AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
    GROUP BY member_type, member
) AS earlier
USING (member_type, member)
