-- Of some sessions (session_days' keys), those seen on a day of a scope from `since` to the day before `day`,
-- each with the last such day. The days' keys read once against a handful (~4 ms over a year of 2.5 M).
SELECT session_key, max(day) AS previous
FROM session_days
WHERE day >= {since:Date}
  AND day < {day:Date}
  AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
  AND session_key IN {keys:Array(UInt128)}
GROUP BY session_key
ORDER BY session_key
