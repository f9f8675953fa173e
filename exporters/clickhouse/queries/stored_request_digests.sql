-- Which of the given requests (digests in hex) some collector committed since `since_ns`, with when each
-- arrived: collectors sharing the store (dedup.shared) check a group's requests here before counting them, so
-- a request retried against another replica counts once. One query per group; a request's digest is on
-- every row it stored, points and events alike. The keys are made FixedString(16) like the column: as String, a
-- digest ending in a zero byte (one in 256) never matches in IN, and its retry would count again.
SELECT hex(request_digest) AS digest, toUnixTimestamp64Nano(max(received_at)) AS received_ns
FROM
(
    SELECT request_digest, received_at FROM metric_points
    WHERE request_digest IN (SELECT toFixedString(unhex(arrayJoin({digests:Array(String)})), 16))
        AND received_at >= fromUnixTimestamp64Nano({since_ns:Int64}, 'UTC')
    UNION ALL
    SELECT request_digest, received_at FROM events
    WHERE request_digest IN (SELECT toFixedString(unhex(arrayJoin({digests:Array(String)})), 16))
        AND received_at >= fromUnixTimestamp64Nano({since_ns:Int64}, 'UTC')
)
GROUP BY request_digest
