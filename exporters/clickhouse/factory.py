from __future__ import annotations

from exporters.clickhouse.config import ClickHouseConfig
from exporters.clickhouse.store import ClickHouseStore


def create_store(config: ClickHouseConfig) -> ClickHouseStore:
    store = ClickHouseStore(config)
    store.connect()
    store.migrate()
    return store
