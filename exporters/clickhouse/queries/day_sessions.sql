-- Distinct sessions (with an id) of some UTC days of a scope (one organization, or '' for all).
SELECT day, toUInt64(count()) AS sessions
FROM
(
    SELECT day, session_key
    FROM session_days
    WHERE day IN {days:Array(Date)}
      AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
    GROUP BY day, session_key
)
GROUP BY day
ORDER BY day
