from __future__ import annotations

from exporters.clickhouse.config import ClickHouseConfig
from exporters.clickhouse.store import ClickHouseStore
from exporters.clickhouse.summaries import DaySummaries


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


def create_day_summaries(store: ClickHouseStore, config: ClickHouseConfig) -> DaySummaries | None:
    """What keeps the store's day summaries current (summaries.py); None when storage.summaries_refresh_seconds
    is 0."""
    if config.summaries_refresh_seconds == 0:
        return None
    return DaySummaries(store, config.summaries_refresh_seconds)
