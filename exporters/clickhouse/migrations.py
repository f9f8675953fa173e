"""Schema migrations: the files of migrations/, applied once each, in order, by one collector at a time.

Start-up (`ClickHouseStore.migrate`):
1. control.sql's tables are created if missing (`schema_migrations`, `schema_migrations_lock`).
2. What is to do is read: migrations not in `schema_migrations`, and table settings that differ from the
   options (tablesettings.py). Nothing: done, no lock taken (the usual restart).
3. On a server, several collectors may start at once (replicas, a rolling deploy): one of them applies, the
   others wait. The lock is an insert-once row: a collector claims attempt N by inserting a row with the
   deduplication token `schema-migrations-N`; ClickHouse keeps only the first insert of a token, so every
   claimant that reads attempt N back sees the same winner. The winner re-reads what is to do, applies it
   (each migration's statements, then its row in `schema_migrations`), heart-beats every few seconds meanwhile,
   and marks the attempt released. The others poll until nothing is left to do. A winner that dies stops
   beating; after LEASE_S its attempt has expired and the next attempt is claimed the same way.
4. The embedded engine has one owner, the process that opened it: no lock.

Statements are the files' as written on a single server, and rendered by cluster.py with `storage.cluster`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from exporters.clickhouse import cluster as cluster_ddl
from exporters.clickhouse import tablesettings

log = logging.getLogger("cc_analytics.store")

LOCK_TABLE = "schema_migrations_lock"
LEASE_S = 30.0  # an attempt whose holder has not beaten for this long has expired
HEARTBEAT_S = 5.0
POLL_S = 0.2
CLAIM_VISIBLE_S = 10.0  # on a cluster a claim may take a moment to reach the replica that is read

Lend = Callable[[], AbstractContextManager[Any]]


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


def split_statements(script: str) -> list[str]:
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [statement.strip() for statement in "\n".join(lines).split(";") if statement.strip()]


def _package_file(*parts: str) -> Any:
    return resources.files("exporters.clickhouse").joinpath(*parts)


def load_migrations() -> list[Migration]:
    entries = sorted(_package_file("migrations").iterdir(), key=lambda item: item.name)
    return [
        Migration(int(entry.name.split("_", 1)[0]), entry.name, tuple(split_statements(entry.read_text())))
        for entry in entries
        if entry.name.endswith(".sql")
    ]


def control_statements() -> list[str]:
    return split_statements(_package_file("control.sql").read_text())


@dataclass(frozen=True)
class SchemaDdl:
    """The statements of the control tables and of each migration, for a single server or a cluster."""

    cluster: str = ""
    migrations: list[Migration] = field(default_factory=load_migrations)

    @property
    def tables(self) -> list[str]:
        every = control_statements() + [s for m in self.migrations for s in m.statements]
        return cluster_ddl.table_names(every)

    def control(self) -> list[str]:
        return self._render(control_statements())

    def of(self, migration: Migration) -> list[str]:
        return self._render(list(migration.statements))

    def _render(self, statements: list[str]) -> list[str]:
        if not self.cluster:
            return statements
        return cluster_ddl.render(statements, self.cluster, self.tables)

    def every_statement(self) -> list[str]:
        """Everything the store runs to build the schema from nothing, in order."""
        return self.control() + [s for m in self.migrations for s in self.of(m)]


@dataclass
class Work:
    pending: list[Migration]
    alters: list[str]

    def __bool__(self) -> bool:
        return bool(self.pending or self.alters)

    @property
    def names(self) -> list[str]:
        return [migration.name for migration in self.pending] + self.alters


class SchemaLayoutError(RuntimeError):
    """The database holds the other layout's tables (one server's where storage.cluster is set, or the reverse):
    migrations cannot convert one into the other."""


class Migrator:
    def __init__(
        self,
        lend: Lend,
        ddl: SchemaDdl,
        policy: tablesettings.TablePolicy,
        settings: dict[str, Any],
        new_client: Callable[[], Any] | None = None,
    ) -> None:
        """`lend` lends a client of the store; `new_client` makes one for heart-beats (None: no lock, the
        embedded engine); `settings` go with every statement (distributed_foreground_insert on a cluster)."""
        self._lend = lend
        self._ddl = ddl
        self._policy = policy
        self._settings = settings
        self._new_client = new_client

    def run(self) -> list[str]:
        """Bring the schema up to date; returns the names of the migrations this process applied."""
        with self._lend() as client:
            self._check_layout(client)
            for statement in self._ddl.control():
                client.command(statement, settings=self._settings)
        applied: list[str] = []
        waiting_logged = False
        while True:
            work = self._work()
            if not work:
                return applied
            if self._new_client is None:
                return applied + self._apply(work)
            lock = MigrationLock(self._lend, self._new_client, self._settings)
            holder = lock.acquire()
            if holder is None:
                applied += self._apply_under(lock)
                continue
            if not waiting_logged:
                log.info("store.migrations_waiting", extra={"fields": {"holder": holder, "pending": work.names}})
                waiting_logged = True
            time.sleep(POLL_S)

    def _check_layout(self, client: Any) -> None:
        rows = client.query(
            "SELECT name, engine FROM system.tables WHERE database = currentDatabase() AND name IN {names:Array(String)}",
            parameters={"names": self._ddl.tables},
        ).result_rows
        for name, engine in rows:
            if self._ddl.cluster and engine != "Distributed":
                raise SchemaLayoutError(
                    f"table {name} is a one-server table ({engine}), but storage.cluster is {self._ddl.cluster!r}: "
                    "a database made for one server is not converted to a cluster's; use a new database"
                )
            if not self._ddl.cluster and engine == "Distributed":
                raise SchemaLayoutError(
                    f"table {name} is a cluster's Distributed table: set storage.cluster to the cluster it was made for"
                )

    def _apply_under(self, lock: MigrationLock) -> list[str]:
        try:
            return self._apply(self._work())  # another holder may have done some of it meanwhile
        finally:
            lock.release()

    def _work(self) -> Work:
        with self._lend() as client:
            done = {int(row[0]) for row in client.query("SELECT version FROM schema_migrations").result_rows}
        pending = [migration for migration in self._ddl.migrations if migration.version not in done]
        return Work(pending, self._alters())

    def _alters(self) -> list[str]:
        names = list(tablesettings.local_names(self._ddl.tables, self._ddl.cluster))
        with self._lend() as client:
            rows = client.query(tablesettings.ENGINE_FULL_SQL, parameters={"names": names}).result_rows
        return tablesettings.changes(dict(rows), self._policy)

    def _apply(self, work: Work) -> list[str]:
        applied = []
        with self._lend() as client:
            for migration in work.pending:
                for statement in self._ddl.of(migration):
                    client.command(statement, settings=self._settings)
                client.insert(
                    "schema_migrations",
                    [[migration.version, migration.name]],
                    column_names=["version", "name"],
                    settings=self._settings,
                )
                applied.append(migration.name)
                log.info("store.migration_applied", extra={"fields": {"migration": migration.name}})
        # The tables the migrations just created have their settings to set too.
        alters = self._alters() if work.pending else work.alters
        with self._lend() as client:
            for statement in alters:
                client.command(statement, settings=self._settings)
                log.info("store.table_settings_changed", extra={"fields": {"statement": statement}})
        return applied


@dataclass(frozen=True, slots=True)
class Attempt:
    number: int
    leader: str  # the token of its first claim ("" while no claim is visible)
    holder: str
    released: bool
    idle_s: float  # since its last row (claim or heart-beat), by the server's clock

    @property
    def expired(self) -> bool:
        return self.released or self.idle_s > LEASE_S


_LATEST_ATTEMPT = f"""
SELECT attempt,
       argMinIf(token, (at, token), kind = 'claim') AS leader,
       argMinIf(holder, (at, token), kind = 'claim') AS holder,
       countIf(kind = 'released') > 0 AS released,
       dateDiff('millisecond', max(at), now64(3)) / 1000 AS idle_s
FROM {LOCK_TABLE}
WHERE {{attempt:UInt32}} = 0 OR attempt = {{attempt:UInt32}}
GROUP BY attempt
ORDER BY attempt DESC
LIMIT 1
"""


class MigrationLock:
    """One claim of the migration lock by this process (see the module's documentation)."""

    def __init__(self, lend: Lend, new_client: Callable[[], Any], settings: dict[str, Any]) -> None:
        self._lend = lend
        self._new_client = new_client
        # A claim must be deduplicated and visible when its insert returns: no asynchronous insert.
        self._insert_settings = {**settings, "async_insert": 0, "insert_deduplicate": 1}
        self.token = uuid.uuid4().hex
        self.holder = f"{socket.gethostname()}:{os.getpid()}"
        self.attempt = 0
        self._stop = threading.Event()
        self._beater: threading.Thread | None = None

    def acquire(self) -> str | None:
        """None once this process holds the lock; else who holds it (wait and look again)."""
        latest = self._read(0)
        if latest is not None and not latest.expired:
            return latest.holder or "?"
        number = latest.number + 1 if latest is not None else 1
        self._insert("claim", number, deduplication_token=f"schema-migrations-{number}")
        claimed = self._read_claim(number)
        if claimed is None or claimed.leader != self.token:
            return claimed.holder if claimed is not None else "?"
        self.attempt = number
        self._beater = threading.Thread(target=self._beat, name="migrations-heartbeat", daemon=True)
        self._beater.start()
        log.info("store.migrations_lock_taken", extra={"fields": {"attempt": number, "holder": self.holder}})
        return None

    def release(self) -> None:
        self._stop.set()
        if self._beater is not None:
            self._beater.join()
        try:
            self._insert("released", self.attempt)
        except Exception as exc:  # the attempt then expires after LEASE_S instead
            log.warning("store.migrations_release_failed", extra={"fields": {"error": str(exc)}})

    def _read_claim(self, number: int) -> Attempt | None:
        deadline = time.monotonic() + CLAIM_VISIBLE_S
        while True:
            attempt = self._read(number)
            if (attempt is not None and attempt.leader) or time.monotonic() > deadline:
                return attempt
            time.sleep(POLL_S)

    def _read(self, number: int) -> Attempt | None:
        with self._lend() as client:
            rows = client.query(_LATEST_ATTEMPT, parameters={"attempt": number}).result_rows
        if not rows:
            return None
        attempt, leader, holder, released, idle_s = rows[0]
        return Attempt(int(attempt), leader, holder, bool(released), float(idle_s))

    def _insert(self, kind: str, number: int, deduplication_token: str = "", client: Any = None) -> None:
        settings = dict(self._insert_settings)
        if deduplication_token:
            settings["insert_deduplication_token"] = deduplication_token
        row = [[number, self.token, self.holder, kind]]
        columns = ["attempt", "token", "holder", "kind"]
        if client is not None:
            client.insert(LOCK_TABLE, row, column_names=columns, settings=settings)
            return
        with self._lend() as lent:
            lent.insert(LOCK_TABLE, row, column_names=columns, settings=settings)

    def _beat(self) -> None:
        # A client of its own: the store's may all be busy with the migration's long statements.
        client = self._new_client()
        try:
            while not self._stop.wait(HEARTBEAT_S):
                try:
                    self._insert("heartbeat", self.attempt, client=client)
                except Exception as exc:  # the next beat may pass; a lease lost shows in the others' logs
                    log.warning("store.migrations_heartbeat_failed", extra={"fields": {"error": str(exc)}})
        finally:
            client.close()
