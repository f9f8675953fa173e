-- The tables and views of the store's database, with their engines.
SELECT name, engine
FROM system.tables
WHERE database = currentDatabase()
ORDER BY name
