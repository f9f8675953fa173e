"""ClickHouse exporter: schema migrations, the writer of raw facts, and the SQL of every view."""

from exporters.clickhouse.config import ClickHouseConfig
from exporters.clickhouse.factory import create_store
from exporters.clickhouse.store import ClickHouseStore, QueryFailed, StoreUnavailable

__all__ = ["ClickHouseConfig", "ClickHouseStore", "QueryFailed", "StoreUnavailable", "create_store"]
