-- Admin-API report: tokens and spend per model for the members of one page, one UTC day.
SELECT
    member_type,
    member,
    organization_id,
    model,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_creation_tokens) AS cache_creation_tokens,
    sum(spend_usd) AS spend_usd
FROM model_usage_hourly
-- include: report_page_hours
GROUP BY member_type, member, organization_id, model
ORDER BY model
