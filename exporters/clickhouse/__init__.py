"""The store: ClickHouse's schema (migrations), the writer of raw facts and the SQL of every named query.

Callers are typed against `pdata.store`'s protocols; only the composition root creates the store
(`create_store`). `StoreUnavailable` and `QueryFailed` are `pdata.store`'s, re-exported here.
"""

from exporters.clickhouse.config import ClickHouseConfig
from exporters.clickhouse.factory import create_day_summaries, create_store
from exporters.clickhouse.store import ClickHouseStore, QueryFailed, SchemaObject, StoreUnavailable

__all__ = [
    "ClickHouseConfig",
    "ClickHouseStore",
    "QueryFailed",
    "SchemaObject",
    "StoreUnavailable",
    "create_day_summaries",
    "create_store",
]
