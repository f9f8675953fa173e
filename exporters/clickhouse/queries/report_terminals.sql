-- Admin-API report: the terminal a member used most that day. No rollup keeps terminal.type, so this
-- reads raw rows, but only one day of them and only for the members of one page.
SELECT
    member_type,
    member,
    organization_id,
    topKIf(1)(terminal_type, terminal_type != '') AS terminals
FROM
(
    SELECT member_type, member, organization_id, terminal_type FROM metric_points
    WHERE time >= {start:DateTime('UTC')} AND time < {end:DateTime('UTC')} AND member IN {members:Array(String)}
    UNION ALL
    SELECT member_type, member, organization_id, terminal_type FROM events
    WHERE time >= {start:DateTime('UTC')} AND time < {end:DateTime('UTC')} AND member IN {members:Array(String)}
)
GROUP BY member_type, member, organization_id
