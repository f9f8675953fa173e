-- The fingerprints of every organization's UTC days (`day_summaries`, exporters/clickhouse/summaries.py): the
-- points and events member_daily counted and the rows session_days took (day_rows). Both only grow, and grow
-- with every insert that touches the day: a day whose two counts are unchanged holds the same members and
-- sessions. One row per organization and day with any; the collector sums them for all organizations.
SELECT organization_id, day, toUInt64(sum(member_rows)) AS member_rows, toUInt64(sum(session_rows)) AS session_rows
FROM day_rows
GROUP BY organization_id, day
ORDER BY organization_id, day
