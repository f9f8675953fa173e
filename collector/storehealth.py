"""Whether the store can still keep what the collector acknowledges: part of /readyz, and a gate on every write.

The embedded engine (chDB) keeps writing after its data directory is deleted under it: it recreates the
directories it writes parts into, so inserts succeed and requests were acknowledged, yet nothing of them
(nor the tables' metadata) survives a restart. A ping cannot tell. So for the embedded store the directory
itself is checked: the one the store opened at start-up (same device and inode) must still be there and be
writable. Once it has vanished or been replaced the store stays unhealthy until a restart (what it holds
now is not what it will reopen): /readyz answers 503 and every write is refused, so senders get 503 /
UNAVAILABLE with a retry hint and retry against a collector that can keep their data.

A ClickHouse server keeps its own disks: its health is its ping.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from collector.dirguard import DirectoryGuard
from pdata import EventFact, PointFact
from pdata.store import PreparedFacts, StoreUnavailable

log = logging.getLogger("cc_analytics.store")


def embedded_path(dsn: str) -> Path | None:
    """The data directory of a chdb:// DSN; None for a server."""
    if not dsn.startswith("chdb:"):
        return None
    return Path(dsn.removeprefix("chdb:").removeprefix("//"))


class StoreHealth:
    def __init__(self, store: Any, data_path: Path | None) -> None:
        self._store = store
        self._guard = (
            DirectoryGuard(data_path, "the data directory", "store.data_directory_lost", log)
            if data_path is not None
            else None
        )

    def check(self) -> tuple[bool, str]:
        """(healthy, reason) for /readyz: the data directory, then the store's answer."""
        problem = self.directory_problem()
        if problem:
            return False, problem
        if not self._store.ping():
            return False, "store unreachable"
        return True, ""

    def directory_problem(self) -> str:
        """Why the embedded store's writes would not be durable now; empty when they would (or for a server)."""
        return self._guard.problem() if self._guard is not None else ""


class HealthGatedStore:
    """The store as the pipeline writes to it: a write is refused before it starts, and reported failed after
    it returned, whenever the data directory is not the one that will be reopened (so it is never
    acknowledged); `ping` is the health check. Everything else is passed through."""

    def __init__(self, store: Any, health: StoreHealth) -> None:
        self._store = store
        self._health = health

    def write(self, points: Sequence[PointFact], events: Sequence[EventFact]) -> None:
        self.write_prepared(self.prepare(points, events))

    def prepare(self, points: Sequence[PointFact], events: Sequence[EventFact]) -> PreparedFacts:
        return self._store.prepare(points, events)

    def write_prepared(self, prepared: PreparedFacts) -> None:
        self._refuse_if_unhealthy()
        self._store.write_prepared(prepared)
        self._refuse_if_unhealthy()  # vanished during the write: what it wrote will not survive

    def ping(self) -> bool:
        return self._health.check()[0]

    def _refuse_if_unhealthy(self) -> None:
        problem = self._health.directory_problem()
        if problem:
            raise StoreUnavailable(problem)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)
