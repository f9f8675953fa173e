"""One code path for the embedded engine (chDB) and a ClickHouse server: clickhouse-connect."""

from __future__ import annotations

import functools
import logging
import os
import re
import sys
import threading
import uuid
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import clickhouse_connect
from clickhouse_connect.driver import options as driver_options
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError
from clickhouse_connect.driver.insert import InsertContext
from clickhouse_connect.driver.transform import NativeTransform

from exporters.clickhouse.cluster import on_cluster
from exporters.clickhouse.config import ClickHouseConfig
from exporters.clickhouse.insert_journal import InsertJournal, JournaledInsert
from exporters.clickhouse.migrations import Migrator, SchemaDdl, SchemaLayoutError
from exporters.clickhouse.pool import ClientPool
from exporters.clickhouse.rows import EVENT_COLUMNS, POINT_COLUMNS, event_columns, point_columns
from exporters.clickhouse.tablesettings import TablePolicy
from exporters.clickhouse.write_errors import refused_write
from pdata import EventFact, PointFact
from pdata.store import PreparedFacts, QueryFailed, StoreRefused, StoreUnavailable

log = logging.getLogger("cc_analytics.store")

# The store hands clickhouse-connect lists and reads rows as tuples, never DataFrames or arrays. Left to itself,
# the driver's first insert imports pandas and numpy only to check whether the rows are one: about 0.5 s of CPU
# and 40-70 MB of resident memory in the writer, for nothing. Declared absent, pandas is never loaded (numpy is:
# chDB's module imports pyarrow, which imports it).
driver_options.pd = None
driver_options.np = None

_UNKNOWN_DATABASE = 81
# jemalloc options of the embedded engine with storage.return_freed_memory: freed pages go back after half a
# second unused. At once (0 ms) every query paid page faults for the memory it allocated afresh: reads of the
# rollups' uniqExact states ran 3-6x slower (exporters/clickhouse/README.md, Memory).
EMBEDDED_ALLOCATOR_CONF = "dirty_decay_ms:500,muzzy_decay_ms:0"

__all__ = ["ClickHouseStore", "QueryFailed", "SchemaObject", "StoreUnavailable"]


@dataclass(frozen=True, slots=True)
class SchemaObject:
    """A table or view of the store's database, with its engine (`MergeTree`, `MaterializedView`, …)."""

    name: str
    engine: str


def _query_error(name: str, exc: Exception) -> Exception:
    if isinstance(exc, DatabaseError) and not isinstance(exc, OperationalError):
        return QueryFailed(f"query {name} failed: {exc}")
    return StoreUnavailable(f"query {name} failed: {exc}")


# A whole line `-- include: <fragment>` in a query stands for queries/fragments/<fragment>.sql.
_INCLUDE_LINE = re.compile(r"^(?P<indent>[ \t]*)-- include:(?P<name>.*)$", re.MULTILINE)
_FRAGMENT_NAME = re.compile(r"[a-z][a-z0-9_]*")


def expand_includes(text: str, fragments: Traversable, source: str) -> str:
    """`text` with each `-- include: <fragment>` line replaced by the fragment's SQL (its leading comment left
    out), every line indented as the include line was. Plain text, no formatting: a fragment's values stay
    server-side bound parameters. An unknown fragment, or a fragment that includes another, is an error."""

    def fragment_text(match: re.Match[str]) -> str:
        name = match.group("name").strip()
        path = fragments.joinpath(f"{name}.sql")
        if not _FRAGMENT_NAME.fullmatch(name) or not path.is_file():
            raise ValueError(f"{source}: unknown SQL fragment {name!r} (no queries/fragments/{name}.sql)")
        lines = path.read_text().splitlines()
        while lines and (not lines[0].strip() or lines[0].lstrip().startswith("--")):
            lines.pop(0)
        body = "\n".join(lines).rstrip()
        if _INCLUDE_LINE.search(body):
            raise ValueError(f"queries/fragments/{name}.sql: a fragment cannot include another fragment")
        indent = match.group("indent")
        return "\n".join(indent + line if line else line for line in body.splitlines())

    return _INCLUDE_LINE.sub(fragment_text, text)


@functools.cache
def _sql(folder: str, name: str) -> str:
    # Read and expanded once per process: the package's SQL does not change while the collector runs.
    package = resources.files("exporters.clickhouse")
    text = package.joinpath(folder, name).read_text()
    return expand_includes(text, package.joinpath("queries", "fragments"), f"{folder}/{name}")


@contextmanager
def _emptied_after(context: InsertContext) -> Iterator[InsertContext]:
    """`context`, emptied once the block ends. An InsertContext holds a bound method of itself, a reference cycle:
    left to the cyclic garbage collector, the rows it holds (a drain group's columns, ~40 MB for 20 000 rows) would
    be freed only by its next full pass, which comes rarely while the writer is busy; emptied, they go at once."""
    try:
        yield context
    finally:
        vars(context).clear()


def _native_body(context: InsertContext) -> bytes:
    """The rows as the insert sends them (ClickHouse's Native format, uncompressed), serialized once: journaled,
    then sent as they are."""
    context.compression = None
    with _emptied_after(context):
        chunks = list(NativeTransform.build_insert(context))
        failure = context.insert_exception
    if failure is not None:
        raise failure
    if not chunks:
        return b""
    # The first block starts with the statement an HTTP body carries; the insert names its table itself.
    statement, _, first = chunks[0].partition(b"\n")
    if not statement.startswith(b"INSERT INTO "):
        raise ValueError(f"unexpected Native insert body for {context.table}")
    return b"".join([first, *chunks[1:]])


@dataclass(frozen=True, slots=True)
class _NativeInsert:
    table: str
    column_names: list[str]
    body: bytes


def _identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


class ClickHouseStore:
    def __init__(self, config: ClickHouseConfig) -> None:
        self.config = config
        # Clients lent one at a time (storage.pool_size), so the readers (the API, the gauges, the day
        # summaries) do not queue behind each other: on a server its connections, for the embedded engine
        # handles of it (chDB runs the queries of several handles of one engine at once; one handle runs one
        # at a time).
        self._pool: ClientPool | None = None
        # The writer's inserts take a client of their own: reads holding every pooled client (an answer asks
        # several of its reads at once) never delay an insert, and so never a sender's acknowledgement.
        self._writer: ClientPool | None = None
        # Server only: the health check's own client, so /readyz answers while every pooled client is busy.
        self._probe: Any = None
        self._probe_lock = threading.Lock()
        self._journal = InsertJournal(
            Path(config.journal_dir) if config.journal_dir else None, config.fsync_after_insert
        )
        # Per table: the inserted columns' types and the server's time zone, asked once (DESCRIBE TABLE), so
        # that rows are serialized without a client and without a query per insert.
        self._insert_types: dict[str, tuple[list[Any], Any]] = {}

    @property
    def embedded(self) -> bool:
        return self.config.dsn.startswith("chdb:")

    @property
    def database(self) -> str:
        """The server database of the DSN (`default` when it names none)."""
        return unquote(urlsplit(self.config.dsn).path.strip("/").split("/")[0]) or "default"

    def connect(self) -> None:
        try:
            if self.embedded:
                self._configure_embedded_allocator()
                self._pool = ClientPool(self._new_client, self.config.pool_size)
            else:
                self._pool = self._server_pool()
                self._probe = self._new_client()
            self._writer = ClientPool(self._new_client, 1)
        except Exception as exc:  # the driver raises many types; all mean "not reachable"
            self.close()  # nothing of a connect that failed half-way stays open
            raise StoreUnavailable(f"cannot connect to {self.redacted_dsn}: {exc}") from exc

    def _configure_embedded_allocator(self) -> None:
        """chDB's allocator (jemalloc) keeps the pages an insert freed for ~10 s (dirty, then muzzy decay) before
        it gives them back; under a steady stream of large inserts that is hundreds of MB of RSS the engine's
        own memory tracking never shows. Read once, when the engine loads: set before the first client."""
        if not self.config.return_freed_memory or "chdb" in sys.modules:
            return
        os.environ.setdefault("JE_MALLOC_CONF", EMBEDDED_ALLOCATOR_CONF)

    def _new_client(self, **options: Any) -> Any:
        if self.embedded:
            return clickhouse_connect.get_client(dsn=self.config.dsn)
        # No session: a session ties a client to one server behind a load balancer, and its queries to one
        # at a time. Requests are compressed (lz4) and answers asked for compressed (clickhouse-connect's
        # default, compress=True).
        return clickhouse_connect.get_client(dsn=self.config.dsn, autogenerate_session_id=False, **options)

    def _server_pool(self) -> ClientPool:
        try:
            return ClientPool(self._new_client, self.config.pool_size)
        except DatabaseError as exc:
            if getattr(exc, "code", None) != _UNKNOWN_DATABASE:
                raise
        self._create_database()
        return ClientPool(self._new_client, self.config.pool_size)

    def _create_database(self) -> None:
        """A server with no database of the DSN's name yet: create it (ON CLUSTER on a cluster)."""
        bootstrap = self._new_client(database="default")
        try:
            bootstrap.command(
                f"CREATE DATABASE IF NOT EXISTS {_identifier(self.database)}{on_cluster(self.config.cluster)}"
            )
        finally:
            bootstrap.close()
        log.info("store.database_created", extra={"fields": {"database": self.database, "dsn": self.redacted_dsn}})

    def _lend(self) -> AbstractContextManager[Any]:
        """One pooled clickhouse-connect client for a block; every call of the store takes its client this way."""
        if self._pool is None:
            raise StoreUnavailable(f"{self.redacted_dsn} is not connected")
        return self._pool.client()

    def _lend_writer(self) -> AbstractContextManager[Any]:
        """The writer's own client, for the inserts of `write_prepared` and the insert a crash interrupted."""
        if self._writer is None:
            raise StoreUnavailable(f"{self.redacted_dsn} is not connected")
        return self._writer.client()

    @property
    def redacted_dsn(self) -> str:
        dsn = self.config.dsn
        if "@" in dsn and "://" in dsn:
            scheme, rest = dsn.split("://", 1)
            return f"{scheme}://***@{rest.split('@', 1)[1]}"
        return dsn

    def close(self) -> None:
        for pool in (self._pool, self._writer):
            if pool is not None:
                pool.close()
        self._pool = self._writer = None
        with self._probe_lock:
            if self._probe is not None:
                self._probe.close()
                self._probe = None

    def migrate(self) -> list[str]:
        """Apply the versioned migrations not yet applied, in order, and bring the table settings (retention,
        fsync) in line with the options; returns the names of the migrations this process applied. On a
        server one collector at a time does it (a lock, see migrations.py); the others wait for it."""
        if self._pool is None:
            raise StoreUnavailable(f"{self.redacted_dsn} is not connected")
        migrator = Migrator(
            self._lend,
            SchemaDdl(self.config.cluster),
            TablePolicy(
                self.config.retention_days,
                self.config.fsync_after_insert,
                self.config.cluster,
                embedded=self.embedded,
            ),
            {"distributed_foreground_insert": 1} if self.config.cluster else {},
            new_client=None if self.embedded else self._new_client,
        )
        try:
            applied = migrator.run()
        except SchemaLayoutError as exc:
            raise QueryFailed(f"migrations on {self.redacted_dsn}: {exc}") from exc
        except DatabaseError as exc:
            raise _query_error("migrations", exc) from exc
        except Exception as exc:
            raise StoreUnavailable(f"migrations on {self.redacted_dsn} failed: {exc}") from exc
        if applied:
            log.info("store.migrated", extra={"fields": {"applied": applied, "dsn": self.redacted_dsn}})
        return applied

    def ping(self) -> bool:
        try:
            if self.embedded:
                with self._lend() as client:
                    return client.command("SELECT 1") == 1
            with self._probe_lock:
                return self._probe is not None and self._probe.command("SELECT 1") == 1
        except Exception:
            return False

    def _insert_settings(self, token: str) -> dict[str, int | str]:
        settings: dict[str, int | str] = {
            # The materialized views that fill the rollups cost more per insert than the table itself (~35 ms
            # of a 1-row insert into metric_points on chDB, for its 3 views): run them side by side, not one by
            # one. Same blocks, same rows; the insert stays one statement per table.
            "parallel_view_processing": 1,
            # Sent again with the same token (insert_journal.py), an insert skips every part already committed,
            # the raw table's and each view's, and writes only the missing ones.
            "insert_deduplication_token": token,
            "deduplicate_blocks_in_dependent_materialized_views": 1,
        }
        if self.embedded:
            return settings
        # Acknowledged means committed: a user profile with async_insert=1 and wait_for_async_insert=0 would
        # answer before the rows are written, so the writer says what it needs (see README.md).
        settings["async_insert"] = 0
        settings["insert_deduplicate"] = 1
        if self.config.cluster:
            # Into the shards before the insert returns, not queued on this node for later.
            settings["distributed_foreground_insert"] = 1
        return settings

    def write(self, points: Sequence[PointFact], events: Sequence[EventFact]) -> None:
        """Insert one group of facts. Raises StoreRefused when the store refuses these rows (permanent) and
        StoreUnavailable otherwise (retryable); the caller acknowledges only on return."""
        self.write_prepared(self.prepare(points, events))

    def prepare(self, points: Sequence[PointFact], events: Sequence[EventFact]) -> PreparedFacts:
        """The group's inserts, serialized (Native format), one per table; no client is held meanwhile, so the
        insert before this one and the readers go on."""
        try:
            inserts = []
            if points:
                inserts.append(self._native_insert("metric_points", POINT_COLUMNS, point_columns(points)))
            if events:
                inserts.append(self._native_insert("events", EVENT_COLUMNS, event_columns(events)))
        except StoreUnavailable:
            raise
        except Exception as exc:
            raise StoreUnavailable(f"insert into {self.redacted_dsn} failed: {exc}") from exc
        return PreparedFacts(points, events, tuple(inserts))

    def write_prepared(self, prepared: PreparedFacts) -> None:
        """Send what `prepare` made, each table's insert journaled first (insert_journal.py)."""
        try:
            with self._lend_writer() as client:
                for insert in prepared.payload:
                    entry = self._journal.begin(insert.table, insert.column_names, insert.body)
                    self._send(client, entry, "insert into")
        except StoreRefused:
            raise
        except Exception as exc:
            raise StoreUnavailable(f"insert into {self.redacted_dsn} failed: {exc}") from exc

    def insert_body(self, table: str, column_names: list[str], columns: list[list]) -> bytes:
        """The Native-format body an insert of these rows sends (and journals); for tools and tests."""
        return self._native_insert(table, column_names, columns).body

    def _native_insert(self, table: str, column_names: list[str], columns: list[list]) -> _NativeInsert:
        known = self._insert_types.get(table)
        if known is None:
            with self._lend() as client:
                described = client.create_insert_context(table, column_names, column_oriented=True)
            known = self._insert_types[table] = (list(described.column_types), described.server_tz)
        column_types, server_tz = known
        context = InsertContext(
            table, column_names, column_types, data=columns, column_oriented=True, server_tz=server_tz
        )
        return _NativeInsert(table, column_names, _native_body(context))

    def _send(self, client: Any, entry: JournaledInsert, action: str) -> None:
        """Send a journaled insert. Its journal ends once the store has it whole. A failure, a refusal too, may
        have committed part of it (a view that refuses what its table took), so the journal stays for the retry
        (the same rows, the same token) or the next start to complete, until the writer finds none of it stored
        (`forget_failed_insert`) or the next insert is journaled."""
        try:
            client.raw_insert(
                entry.table, entry.column_names, entry.body, settings=self._insert_settings(entry.token), fmt="Native"
            )
        except Exception as exc:
            refused = refused_write(f"{action} {self.redacted_dsn} refused", exc)
            if refused is None:
                raise
            raise refused from exc
        self._journal.end()

    def forget_failed_insert(self) -> None:
        """The insert that just failed is answered as failed with none of its rows stored: it is not to be
        completed at the next start (its requests may have been refused, never to be retried)."""
        self._journal.end()

    def complete_interrupted_insert(self) -> None:
        """Send again the insert a crash interrupted, if the journal holds one: the parts it had not committed are
        written, the others skipped. Runs at start-up, before the processors read their state from the store."""
        entry = self._journal.interrupted()
        if entry is None:
            return
        fields: dict[str, Any] = {"table": entry.table, "bytes": len(entry.body)}
        try:
            with self._lend_writer() as client:
                self._send(client, entry, "completing the interrupted insert into")
        except StoreRefused as refused:
            self._journal.end()
            log.error("store.interrupted_insert_refused", extra={"fields": {**fields, "error": str(refused)}})
            return
        except Exception as exc:
            raise StoreUnavailable(f"completing the interrupted insert into {self.redacted_dsn} failed: {exc}") from exc
        effect = "an insert cut short by a crash is whole now: the parts already committed were skipped"
        log.warning("store.interrupted_insert_completed", extra={"fields": {**fields, "effect": effect}})

    def query(self, name: str, parameters: dict[str, Any]) -> list[tuple]:
        """Run the named query from queries/ with server-side bound parameters."""
        sql = _sql("queries", f"{name}.sql")
        try:
            with self._lend() as client:
                return list(client.query(sql, parameters=parameters).result_rows)
        except Exception as exc:
            raise _query_error(name, exc) from exc

    def query_named(self, name: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
        sql = _sql("queries", f"{name}.sql")
        try:
            with self._lend() as client:
                result = client.query(sql, parameters=parameters)
                return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]
        except Exception as exc:
            raise _query_error(name, exc) from exc

    def insert_rows(self, table: str, column_names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Rows the store derives from what it holds (day_summaries: summaries.py), not facts: no journal, since
        a lost insert is computed again."""
        try:
            with self._lend() as client:
                made = client.create_insert_context(
                    table,
                    list(column_names),
                    data=[list(row) for row in rows],
                    # Derived rows repeat (a day's kept ids written again whole): an identical block is no retry
                    # here, so each insert is its own (a token of its own, where the table deduplicates blocks by
                    # their hash). On a cluster, written to the shard before the next refresh reads it.
                    settings={"insert_deduplication_token": uuid.uuid4().hex}
                    | ({"distributed_foreground_insert": 1} if self.config.cluster else {}),
                )
                with _emptied_after(made) as context:
                    client.insert(context=context)
        except Exception as exc:
            raise StoreUnavailable(f"insert into {table} of {self.redacted_dsn} failed: {exc}") from exc

    def tables(self) -> list[SchemaObject]:
        """The tables and views of the store's database (the control tables, raw tables, rollups and the
        materialized views that fill them; on a cluster the `_local` and Distributed tables), by name."""
        return [SchemaObject(str(name), str(engine)) for name, engine in self.query("schema_objects", {})]

    def execute(self, statement: str, settings: dict[str, Any] | None = None) -> Any:
        """Run a statement of the caller's own (a benchmark's generated history, `OPTIMIZE`, `DETACH`) and return
        its summary; the collector's own SQL is in queries/ and asked by name."""
        try:
            with self._lend() as client:
                return client.command(statement, settings=settings)
        except Exception as exc:
            raise _query_error("statement", exc) from exc

    def select(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple]:
        """The rows of a read of the caller's own (a benchmark's raw scan, a dashboard's query), parameters bound
        server-side."""
        try:
            with self._lend() as client:
                return list(client.query(sql, parameters=parameters).result_rows)
        except Exception as exc:
            raise _query_error("select", exc) from exc

    def cumulative_series_state(self, since_ns: int) -> Iterator[tuple[int, int, float, int, int]]:
        yield from self.query("cumulative_series_state", {"since_ns": since_ns})

    def recent_request_digests(self, since_ns: int) -> Iterator[tuple[bytes, int]]:
        for digest, received_ns in self.query("recent_request_digests", {"since_ns": since_ns}):
            yield (digest if isinstance(digest, bytes) else digest.encode("latin-1")), received_ns

    def stored_request_digests(self, digests: Collection[bytes], since_ns: int) -> dict[bytes, int]:
        """Of `digests`, those of requests committed since `since_ns` (by any collector), with their arrival."""
        if not digests:
            return {}
        rows = self.query("stored_request_digests", {"digests": [d.hex() for d in digests], "since_ns": since_ns})
        return {bytes.fromhex(digest): int(received_ns) for digest, received_ns in rows}

    def kept_any(self, prepared: PreparedFacts) -> bool:
        """Whether any of `prepared`'s rows is in the raw tables, by its requests' digests: an insert that failed
        may have been kept in part. The raw tables are what can be asked (a rollup keeps no digest): of 70 inserts
        a view refused on chDB 26.9 (every table read after each, views run in parallel and one by one), the
        engine kept the raw table's part, with some views' or none, or nothing at all; never a view's alone."""
        facts: list[PointFact | EventFact] = [*prepared.points, *prepared.events]
        if not facts:
            return False
        since_ns = min(fact.received_ns for fact in facts) // 1_000_000 * 1_000_000  # stored in milliseconds
        return bool(self.stored_request_digests({fact.digest for fact in facts}, since_ns))

    def stored_series_state(self, keys: Collection[int], since_ns: int) -> dict[int, tuple[int, float, int, int]]:
        """Of the cumulative series `keys`, those stored since `since_ns` (by any collector): key → (start_ns,
        raw cumulative value, time_ns, received_ns) of the last stored point."""
        if not keys:
            return {}
        rows = self.query("stored_series_state", {"keys": list(keys), "since_ns": since_ns})
        return {
            int(key): (int(start_ns), float(value), int(time_ns), int(received_ns))
            for key, start_ns, value, time_ns, received_ns in rows
        }
