-- The organizations and teams seen in a range (whole UTC days): the choices of the console's filters.
SELECT DISTINCT toString(organization_id) AS organization_id, toString(team) AS team
FROM team_daily
-- include: range_days
ORDER BY organization_id, team
LIMIT 10000
