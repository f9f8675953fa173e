-- Digests of requests counted within the dedup window, oldest first.
SELECT request_digest, toUnixTimestamp64Nano(max(received_at)) AS received_ns
FROM
(
    SELECT request_digest, received_at FROM metric_points
    WHERE received_at >= fromUnixTimestamp64Nano({since_ns:Int64}, 'UTC')
    UNION ALL
    SELECT request_digest, received_at FROM events
    WHERE received_at >= fromUnixTimestamp64Nano({since_ns:Int64}, 'UTC')
)
GROUP BY request_digest
ORDER BY received_ns
