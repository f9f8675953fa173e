"""A store whose schema stops at an earlier migration, to test what a later one does to the rows it holds."""

from __future__ import annotations

import contextlib

import clickhouse_connect

from exporters.clickhouse import ClickHouseConfig, ClickHouseStore, tablesettings
from exporters.clickhouse.migrations import Migrator, SchemaDdl, load_migrations


def store_at_migration(dsn: str, version: int) -> ClickHouseStore:
    """A connected store at `dsn` with the migrations up to `version` applied, not the later ones; its own
    `migrate()` applies those."""
    raw = clickhouse_connect.get_client(dsn=dsn)
    try:
        earlier = SchemaDdl(migrations=[m for m in load_migrations() if m.version <= version])
        Migrator(lambda: contextlib.nullcontext(raw), earlier, tablesettings.TablePolicy(400, False), {}).run()
    finally:
        raw.close()
    store = ClickHouseStore(ClickHouseConfig(dsn=dsn))
    store.connect()
    return store
