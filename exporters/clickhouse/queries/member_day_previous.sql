-- session_day_previous for members: the key of each member of a scope's UTC day (sipHash128 of member_type and
-- member, as day_summary_ids keeps it) with the last day before it, at or after `since`, it was active on
-- (1970-01-01 when none).
SELECT reinterpretAsUInt128(sipHash128(of_day.member_type, of_day.member)) AS member_key, earlier.previous
FROM
(
    SELECT DISTINCT toString(member_type) AS member_type, member
    FROM member_daily
    WHERE day = {day:Date}
      AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
) AS of_day
LEFT JOIN
(
    SELECT toString(member_type) AS member_type, member, max(day) AS previous
    FROM member_daily
    WHERE day >= {since:Date}
      AND day < {day:Date}
      AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
    GROUP BY member_type, member
) AS earlier
USING (member_type, member)
