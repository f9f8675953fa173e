from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ClickHouseConfig:
    # chdb:///absolute/dir for the embedded engine, http(s)://user:pass@host:8123/db for a server.
    dsn: str
    # Ask ClickHouse to fsync parts on insert, for durability across power loss (not only process crashes).
    fsync_after_insert: bool = False
