-- For some UTC days of a scope (one organization, or '' for all): each day's distinct sessions, and those of
-- them seen on an earlier day at or after `since`, counted by how many days before (at most `max_gap`). Only
-- the sessions of those days are looked for in the days before them (GLOBAL: on a cluster the set is built
-- once and sent to every shard).
SELECT
    day,
    toUInt64(count()) AS sessions,
    sumMapIf([toUInt16(day - previous)], [toUInt64(1)], previous >= {since:Date} AND day - previous <= {max_gap:UInt16})
        AS returning
FROM
(
    SELECT
        day,
        lagInFrame(day, 1, toDate('1970-01-01'))
            OVER (PARTITION BY session_key ORDER BY day ASC ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS previous
    FROM
    (
        SELECT session_key, day
        FROM session_days
        WHERE day >= {since:Date}
          AND day <= arrayMax({days:Array(Date)})
          AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
          AND session_key GLOBAL IN
          (
              SELECT session_key
              FROM session_days
              WHERE day IN {days:Array(Date)}
                AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
          )
        GROUP BY session_key, day
    )
)
WHERE day IN {days:Array(Date)}
GROUP BY day
ORDER BY day
