-- The fingerprints (see day_fingerprints) of each UTC day of a scope (one organization, or '' for all) from
-- `first` to `last`.
SELECT day, toUInt64(sum(member_rows)) AS member_rows, toUInt64(sum(session_rows)) AS session_rows
FROM day_rows
WHERE day >= {first:Date}
  AND day <= {last:Date}
  AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
GROUP BY day
ORDER BY day
