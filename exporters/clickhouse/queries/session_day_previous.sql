-- Each session of a scope's UTC day with the last day before it, at or after `since`, it was seen on
-- (1970-01-01 when none): a summary's sessions and returns (exporters/clickhouse/summaries.py), with the ids
-- themselves for the days whose ids are kept (day_summary_ids), from the one read that counts them.
SELECT of_day.session_key, earlier.previous
FROM
(
    -- include: day_session_keys
    GROUP BY session_key
) AS of_day
LEFT JOIN
(
    SELECT session_key, max(day) AS previous
    FROM session_days
    WHERE day >= {since:Date}
      AND day < {day:Date}
      AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
      AND session_key GLOBAL IN
      (
          -- include: day_session_keys
      )
    GROUP BY session_key
) AS earlier
USING (session_key)
