-- members_previous_days_in_month for the calendar months before that of `day`, from the monthly rollup: a
-- member's last day in a month is the day of its `last_seen` there, counted from `since` on. Member names are
-- strings: a year of member_daily's (3.65 M for 10 000 members) takes ~35 ms to scan, member_monthly's ~8 ms.
SELECT toString(member_type) AS member_type, member, toDate(max(last_seen)) AS previous
FROM member_monthly
WHERE month >= toStartOfMonth({since:Date})
  AND month < toStartOfMonth({day:Date})
  AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
  AND member IN {members:Array(String)}
GROUP BY member_type, member
HAVING previous >= {since:Date}
ORDER BY member_type, member
