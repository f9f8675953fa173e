-- The session keys of a scope's UTC day (one row per key and part: GROUP BY or IN for each once).
SELECT session_key
FROM session_days
WHERE day = {day:Date}
  AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
