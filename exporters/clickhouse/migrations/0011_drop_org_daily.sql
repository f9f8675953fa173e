-- org_daily's rows are in team_daily since 0010, and nothing writes or reads it any more. Dropped in a migration
-- of its own: 0010 reads it whenever it runs again, until it is recorded.
DROP TABLE IF EXISTS org_daily;
