-- Code-editing decisions per tool over whole UTC days, from the daily rollup.
SELECT
    tool_name,
    sum(accepts) AS accepts,
    sum(rejects) AS rejects
FROM tool_decisions_daily
WHERE day >= toDate({start:DateTime('UTC')})
  AND day < toDate({end:DateTime('UTC')})
  AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
  AND ({team:String} = '' OR team = {team:String})
GROUP BY tool_name
ORDER BY tool_name
