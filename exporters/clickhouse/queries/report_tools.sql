-- Admin-API report: code-editing decisions per tool for the members of one page, one UTC day.
SELECT
    member_type,
    member,
    organization_id,
    tool_name,
    sum(accepts) AS accepted,
    sum(rejects) AS rejected
FROM tool_decisions_hourly
-- include: report_page_hours
GROUP BY member_type, member, organization_id, tool_name
