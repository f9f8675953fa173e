-- Of some members (by name), those active on a day of a scope from `since` to the day before `day` within the
-- calendar month of `day`, each with (member_type, member) and the last such day, from the daily rollup. Names
-- alone are matched (a set of one string each); the caller matches the types and asks
-- members_previous_days_before_month for the members not found.
SELECT toString(member_type) AS member_type, member, max(day) AS previous
FROM member_daily
WHERE day >= greatest({since:Date}, toStartOfMonth({day:Date}))
  AND day < {day:Date}
  AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
  AND member IN {members:Array(String)}
GROUP BY member_type, member
ORDER BY member_type, member
