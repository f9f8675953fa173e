-- The stored summaries of a scope's UTC days from `first` to `last` (migration 0009), the latest of each day
-- (FINAL: day_summaries is a ReplacingMergeTree by computed_at; ~1.5 ms less than argMax over a year's rows).
SELECT
    day,
    (member_rows, member_prior_rows, members, member_returning_gaps, member_returning_counts,
     session_rows, session_prior_rows, sessions, session_returning_gaps, session_returning_counts) AS summary
FROM day_summaries FINAL
WHERE organization_id = {organization_id:String}
  AND day >= {first:Date}
  AND day <= {last:Date}
ORDER BY day
