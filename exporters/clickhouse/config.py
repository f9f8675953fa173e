from __future__ import annotations

from dataclasses import dataclass

from exporters.clickhouse.cluster import ClusterDdlError, check_cluster_name

# Raw rows (metric_points, events) older than this many days are dropped by ClickHouse (a TTL); the rollups
# every view reads keep their history. 0 keeps raw rows forever.
DEFAULT_RETENTION_DAYS = 400
# Clients lent to the writer, the API and the gauges at once on a server (the embedded engine has one).
DEFAULT_POOL_SIZE = 4
MAX_POOL_SIZE = 32


class ClickHouseConfigError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ClickHouseConfig:
    # chdb:///absolute/dir for the embedded engine, http(s)://user:pass@host:8123/db for a server.
    dsn: str
    # fsync parts on insert (a table setting of every table), for durability across power loss, not only
    # process crashes.
    fsync_after_insert: bool = False
    # A cluster name (server only): DDL runs ON CLUSTER, tables are Replicated*MergeTree `<name>_local` with
    # a Distributed `<name>` in front (see cluster.py).
    cluster: str = ""
    retention_days: int = DEFAULT_RETENTION_DAYS
    pool_size: int = DEFAULT_POOL_SIZE

    def check(self) -> ClickHouseConfig:
        """Raises ClickHouseConfigError naming the option and what is wrong."""
        if self.cluster:
            if self.dsn.startswith("chdb:"):
                raise ClickHouseConfigError("storage.cluster needs a ClickHouse server (an http(s):// storage.dsn)")
            try:
                check_cluster_name(self.cluster)
            except ClusterDdlError as exc:
                raise ClickHouseConfigError(f"storage.cluster: {exc}") from None
        if self.retention_days < 0:
            raise ClickHouseConfigError("storage.retention_days must be 0 (keep raw rows forever) or more")
        if not 1 <= self.pool_size <= MAX_POOL_SIZE:
            raise ClickHouseConfigError(f"storage.pool_size must be between 1 and {MAX_POOL_SIZE}")
        return self
