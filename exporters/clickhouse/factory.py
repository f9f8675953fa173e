from __future__ import annotations

from exporters.clickhouse.config import ClickHouseConfig
from exporters.clickhouse.store import ClickHouseStore


def create_store(config: ClickHouseConfig) -> ClickHouseStore:
    """A connected store with its schema up to date (raises StoreUnavailable or QueryFailed, closed)."""
    store = ClickHouseStore(config)
    store.connect()
    try:
        store.migrate()
        store.complete_interrupted_insert()
    except BaseException:
        store.close()
        raise
    return store
