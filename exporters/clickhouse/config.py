from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from exporters.clickhouse.cluster import ClusterDdlError, check_cluster_name
from pdata.options import ConfigError, Option, OptionValues

# Raw rows (metric_points, events) older than this many days are dropped by ClickHouse (a TTL); the rollups
# every view reads keep their history. 0 keeps raw rows forever.
DEFAULT_RETENTION_DAYS = 400
# Clients lent to the writer, the API and the gauges at once on a server (the embedded engine has one).
DEFAULT_POOL_SIZE = 4
MAX_POOL_SIZE = 32

# The store's rows of the collector's option table (README.md). It reads the collector's `data_dir` too: the
# embedded store's files are under it unless storage.dsn says otherwise.
OPTIONS: tuple[Option, ...] = (
    Option("storage.dsn", str, "", "chdb:///dir (embedded) or http(s)://user:pass@host:8123/db; empty means chdb:///<data_dir>/chdb"),
    Option("storage.fsync", bool, False, "fsync every insert (survives power loss, slower)"),
    Option("storage.cluster", str, "", "ClickHouse cluster name (server only): migrations run ON CLUSTER with Replicated*MergeTree tables and Distributed tables for reads (see exporters/clickhouse/README.md); empty means one server"),
    Option("storage.retention_days", int, DEFAULT_RETENTION_DAYS, "raw points and events older than this many days are dropped (a TTL); the rollups every view reads keep their history (0: keep raw rows forever; else at least temporality.state_days + validation.max_age_days)"),
    Option("storage.pool_size", int, DEFAULT_POOL_SIZE, "clients of the store used at once by the API, the gauges and the day summaries (the writer's inserts have one more of their own): connections to a server, handles of the embedded engine"),
    Option("storage.summaries_refresh_seconds", int, 5, "after groups are committed, at most this often, the collector brings the day summaries up to date (each day's distinct members and sessions, which the console's analytics over long ranges add up instead of merging every id; see exporters/clickhouse/README.md, Day summaries); the console computes days whose summary is not current itself (0: never written)"),
    Option("storage.return_freed_memory", bool, True, "embedded store: the engine's allocator gives memory it freed back to the system after 0.5 s unused instead of its default seconds (see exporters/clickhouse/README.md, Memory); an operator's own JE_MALLOC_CONF wins"),
)  # fmt: skip


class ClickHouseConfigError(ConfigError):
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
    # How often at most the day summaries are refreshed after commits (summaries.py); 0: not at all.
    summaries_refresh_seconds: int = 5
    # Embedded engine: set the allocator's decay to 0 before the engine loads (see store.py).
    return_freed_memory: bool = True
    # Where the writer journals the insert in progress (insert_journal.py), the collector's data_dir; empty
    # for a store that is only read (a report, a benchmark's own history).
    journal_dir: str = ""

    @classmethod
    def from_options(cls, values: OptionValues) -> ClickHouseConfig:
        dsn = values["storage.dsn"] or "chdb://" + str((Path(values["data_dir"]) / "chdb").resolve())
        return cls(
            dsn=dsn,
            fsync_after_insert=values["storage.fsync"],
            cluster=values["storage.cluster"],
            retention_days=values["storage.retention_days"],
            pool_size=values["storage.pool_size"],
            summaries_refresh_seconds=values["storage.summaries_refresh_seconds"],
            return_freed_memory=values["storage.return_freed_memory"],
            journal_dir=str(Path(values["data_dir"]).resolve()),
        )

    @property
    def is_server(self) -> bool:
        """A ClickHouse server (http(s)://), which other processes may share, rather than the embedded engine."""
        return self.dsn.startswith(("http://", "https://"))

    def validate(self) -> None:
        """Raises ClickHouseConfigError (a ConfigError) naming the option and what is wrong."""
        if not self.dsn.startswith(("chdb:", "http://", "https://")):
            raise ClickHouseConfigError("storage.dsn must start with chdb://, http:// or https://")
        if self.cluster:
            if self.dsn.startswith("chdb:"):
                raise ClickHouseConfigError("storage.cluster needs a ClickHouse server (an http(s):// storage.dsn)")
            try:
                check_cluster_name(self.cluster)
            except ClusterDdlError as exc:
                raise ClickHouseConfigError(f"storage.cluster: {exc}") from None
        if self.summaries_refresh_seconds < 0:
            raise ClickHouseConfigError("storage.summaries_refresh_seconds must be 0 (no day summaries) or more")
        if self.retention_days < 0:
            raise ClickHouseConfigError("storage.retention_days must be 0 (keep raw rows forever) or more")
        if not 1 <= self.pool_size <= MAX_POOL_SIZE:
            raise ClickHouseConfigError(f"storage.pool_size must be between 1 and {MAX_POOL_SIZE}")
