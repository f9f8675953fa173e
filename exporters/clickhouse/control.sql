-- The store's own bookkeeping, created before any migration runs (migrations.py).
-- schema_migrations: one row per applied migration file.
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version UInt32,
    name String,
    applied_at DateTime('UTC') DEFAULT now()
)
ENGINE = MergeTree
ORDER BY version;

-- schema_migrations_lock: who applies migrations now. A collector claims attempt N with an insert whose
-- deduplication token is the attempt, so only the first claim of N is kept (ClickHouse drops the others:
-- the deduplication window below on a single server, Keeper's block ids on a cluster); every claimant then
-- reads the attempt back, and the one whose token it holds applies the migrations, heart-beating meanwhile.
-- An attempt whose holder stopped beating (a crash) expires, and the next attempt is claimed the same way.
CREATE TABLE IF NOT EXISTS schema_migrations_lock
(
    attempt UInt32,
    token String,
    holder String,
    kind LowCardinality(String),
    at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (attempt, at)
SETTINGS non_replicated_deduplication_window = 1000;
