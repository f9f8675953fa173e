-- For some UTC days of a scope (one organization, or '' for all): each day's distinct members, and those of
-- them seen on an earlier day at or after `since`, counted by how many days before (at most `max_gap`). Each
-- member's days of the window are gathered into one sorted array (a few bytes a day: members are few and
-- active most days), each day paired with the one before it, so nothing sorts or holds every member-day row.
SELECT
    pair.1 AS day,
    toUInt64(count()) AS members,
    sumMapIf([toUInt16(pair.1 - pair.2)], [toUInt64(1)], pair.2 >= {since:Date} AND pair.1 - pair.2 <= {max_gap:UInt16})
        AS returning
FROM
(
    SELECT arrayJoin(arrayZip(days, arrayPushFront(arrayPopBack(days), toDate('1970-01-01')))) AS pair
    FROM
    (
        SELECT arraySort(arrayDistinct(groupArray(day))) AS days
        FROM member_daily
        WHERE day >= {since:Date}
          AND day <= arrayMax({days:Array(Date)})
          AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
        GROUP BY member_type, member
    )
)
WHERE pair.1 IN {days:Array(Date)}
GROUP BY day
ORDER BY day
