-- Admin-API-compatible report: one row per (member, organization) active on one UTC day, in keyset
-- order so a cursor (the last key of a page) stays valid while new rows arrive. From the per-member daily rollup.
SELECT
    member_type,
    member,
    organization_id,
    sum(accepted_lines) AS lines_added,
    sum(removed_lines) AS lines_removed,
    sum(commits) AS commits,
    sum(pull_requests) AS pull_requests,
    uniqExactMerge(sessions) + toUInt64(sum(unidentified_session_starts)) AS num_sessions
FROM member_daily
-- include: range_days
  AND ({first:UInt8} = 1
       OR (toString(member_type), member, toString(organization_id))
          > ({after_type:String}, {after_member:String}, {after_org:String}))
GROUP BY member_type, member, organization_id
ORDER BY toString(member_type), member, toString(organization_id)
LIMIT {limit:UInt32}
