-- The keys of a scope's UTC day kept with its summaries (day_summary_ids), of one kind ('members', 'sessions').
SELECT key
FROM day_summary_ids
WHERE organization_id = {organization_id:String}
  AND day = {day:Date}
  AND kind = {kind:String}
