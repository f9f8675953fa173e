SELECT
    tool_name,
    sum(accepts) AS accepts,
    sum(rejects) AS rejects
FROM tool_decisions_hourly
WHERE hour >= {start:DateTime('UTC')}
  AND hour < {end:DateTime('UTC')}
  AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
  AND ({team:String} = '' OR team = {team:String})
GROUP BY tool_name
ORDER BY tool_name
