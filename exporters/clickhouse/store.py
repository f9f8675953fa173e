"""One code path for the embedded engine (chDB) and a ClickHouse server: clickhouse-connect."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from importlib import resources
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from exporters.clickhouse.config import ClickHouseConfig
from exporters.clickhouse.rows import EVENT_COLUMNS, POINT_COLUMNS, event_columns, point_columns
from pdata import EventFact, PointFact


class StoreUnavailable(RuntimeError):
    """The store could not be reached or refused a write; nothing of that write was acknowledged."""


class QueryFailed(RuntimeError):
    """The store answered, but refused the query (a bug or a parameter it cannot take): not an outage."""


def _query_error(name: str, exc: Exception) -> Exception:
    if isinstance(exc, DatabaseError) and not isinstance(exc, OperationalError):
        return QueryFailed(f"query {name} failed: {exc}")
    return StoreUnavailable(f"query {name} failed: {exc}")


def _sql(folder: str, name: str) -> str:
    return resources.files("exporters.clickhouse").joinpath(folder, name).read_text()


def _statements(script: str) -> list[str]:
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [statement.strip() for statement in "\n".join(lines).split(";") if statement.strip()]


class ClickHouseStore:
    def __init__(self, config: ClickHouseConfig) -> None:
        self.config = config
        self._client: Any = None
        # chDB is one in-process engine; a server client is not thread-safe: serialise calls either way.
        self._lock = threading.Lock()

    @property
    def embedded(self) -> bool:
        return self.config.dsn.startswith("chdb:")

    def connect(self) -> None:
        try:
            self._client = clickhouse_connect.get_client(dsn=self.config.dsn)
        except Exception as exc:  # the driver raises many types; all mean "not reachable"
            raise StoreUnavailable(f"cannot connect to {self.redacted_dsn}: {exc}") from exc

    @property
    def redacted_dsn(self) -> str:
        dsn = self.config.dsn
        if "@" in dsn and "://" in dsn:
            scheme, rest = dsn.split("://", 1)
            return f"{scheme}://***@{rest.split('@', 1)[1]}"
        return dsn

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def migrate(self) -> list[str]:
        """Apply the versioned migrations not yet applied, in order; returns the names applied."""
        with self._lock:
            self._client.command(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, "
                "applied_at DateTime('UTC') DEFAULT now()) ENGINE = MergeTree ORDER BY version"
            )
            done = {row[0] for row in self._client.query("SELECT version FROM schema_migrations").result_rows}
        applied = []
        folder = resources.files("exporters.clickhouse").joinpath("migrations")
        for entry in sorted(folder.iterdir(), key=lambda item: item.name):
            if not entry.name.endswith(".sql"):
                continue
            version = int(entry.name.split("_", 1)[0])
            if version in done:
                continue
            with self._lock:
                for statement in _statements(entry.read_text()):
                    self._client.command(statement)
                self._client.insert("schema_migrations", [[version, entry.name]], column_names=["version", "name"])
            applied.append(entry.name)
        return applied

    def ping(self) -> bool:
        try:
            with self._lock:
                return self._client is not None and self._client.command("SELECT 1") == 1
        except Exception:
            return False

    def write(self, points: Sequence[PointFact], events: Sequence[EventFact]) -> None:
        """Insert one group of facts. Raises StoreUnavailable; the caller acknowledges only on return."""
        # The materialized views that fill the rollups cost more per insert than the table itself (~35 ms of
        # a 1-row insert into metric_points on chDB, for its 3 views): run them side by side, not one by one.
        # Same blocks, same rows; the insert stays one statement per table.
        settings: dict[str, int] = {"parallel_view_processing": 1}
        if self.config.fsync_after_insert:
            settings["fsync_after_insert"] = 1
        try:
            # Rows are built before taking the lock, so that the read API is not held up meanwhile.
            point_data = point_columns(points) if points else None
            event_data = event_columns(events) if events else None
            with self._lock:
                if point_data is not None:
                    self._client.insert(
                        "metric_points",
                        point_data,
                        column_names=POINT_COLUMNS,
                        column_oriented=True,
                        settings=settings,
                    )
                if event_data is not None:
                    self._client.insert(
                        "events",
                        event_data,
                        column_names=EVENT_COLUMNS,
                        column_oriented=True,
                        settings=settings,
                    )
        except Exception as exc:
            raise StoreUnavailable(f"insert into {self.redacted_dsn} failed: {exc}") from exc

    def query(self, name: str, parameters: dict[str, Any]) -> list[tuple]:
        """Run the named query from queries/ with server-side bound parameters."""
        sql = _sql("queries", f"{name}.sql")
        try:
            with self._lock:
                return list(self._client.query(sql, parameters=parameters).result_rows)
        except Exception as exc:
            raise _query_error(name, exc) from exc

    def query_named(self, name: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
        sql = _sql("queries", f"{name}.sql")
        try:
            with self._lock:
                result = self._client.query(sql, parameters=parameters)
                return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]
        except Exception as exc:
            raise _query_error(name, exc) from exc

    def cumulative_series_state(self, since_ns: int) -> Iterator[tuple[int, int, float, int, int]]:
        yield from self.query("cumulative_series_state", {"since_ns": since_ns})

    def recent_request_digests(self, since_ns: int) -> Iterator[tuple[bytes, int]]:
        for digest, received_ns in self.query("recent_request_digests", {"since_ns": since_ns}):
            yield (digest if isinstance(digest, bytes) else digest.encode("latin-1")), received_ns
