-- Admin-API report: code-editing decisions per tool for the members of one page, one UTC day.
SELECT
    member_type,
    member,
    organization_id,
    tool_name,
    sum(accepts) AS accepted,
    sum(rejects) AS rejected
FROM tool_decisions_hourly
WHERE hour >= {start:DateTime('UTC')}
  AND hour < {end:DateTime('UTC')}
  AND member IN {members:Array(String)}
GROUP BY member_type, member, organization_id, tool_name
