-- Code-editing decisions per tool over whole UTC days: whole calendar months from the monthly rollup, the days
-- before the first and after the last whole month from the daily one.
WITH
    toDate({start:DateTime('UTC')}) AS first_day,
    toDate({end:DateTime('UTC')}) AS end_day,
    if(toDayOfMonth(first_day) = 1, first_day, addMonths(toStartOfMonth(first_day), 1)) AS first_month,
    toStartOfMonth(end_day) AS end_month
SELECT
    tool_name,
    sum(accepts) AS accepts,
    sum(rejects) AS rejects
FROM
(
    SELECT tool_name, accepts, rejects
    FROM tool_decisions_monthly
    WHERE month >= first_month
      AND month < end_month
      AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
      AND ({team:String} = '' OR team = {team:String})
    UNION ALL
    SELECT tool_name, accepts, rejects
    FROM tool_decisions_daily
    WHERE day >= first_day
      AND day < end_day
      AND (day < first_month OR day >= end_month)
      AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
      AND ({team:String} = '' OR team = {team:String})
)
GROUP BY tool_name
ORDER BY tool_name
