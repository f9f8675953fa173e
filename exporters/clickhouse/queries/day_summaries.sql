-- The stored summaries of a scope's UTC days from `first` to `last` (migration 0009), the latest of each day.
SELECT
    day,
    argMax(
        (member_rows, member_prior_rows, members, member_returning_gaps, member_returning_counts,
         session_rows, session_prior_rows, sessions, session_returning_gaps, session_returning_counts),
        computed_at
    ) AS summary
FROM day_summaries
WHERE organization_id = {organization_id:String}
  AND day >= {first:Date}
  AND day <= {last:Date}
GROUP BY day
ORDER BY day
