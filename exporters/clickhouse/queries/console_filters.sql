-- The organizations and teams seen in a range: the choices of the console's filters.
SELECT DISTINCT toString(organization_id) AS organization_id, toString(team) AS team
FROM member_hourly
WHERE hour >= {start:DateTime('UTC')}
  AND hour < {end:DateTime('UTC')}
ORDER BY organization_id, team
LIMIT 10000
