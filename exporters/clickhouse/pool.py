"""A fixed set of clickhouse-connect clients, each lent to one caller at a time.

A client holds per-request state (and, with sessions, a server-side session), so two threads must never
share one; a pool of several lets the API's reads, the gauges and the day summaries run side by side instead
of queueing behind one lock: connections to a server, handles of the embedded engine (one handle runs one
query at a time). The store gives the writer's inserts a pool of one of their own.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class PoolClosed(RuntimeError):
    """The store was closed while a caller waited for a client."""


class ClientPool:
    def __init__(self, factory: Callable[[], Any], size: int) -> None:
        if size < 1:
            raise ValueError("a client pool needs at least one client")
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        self._all: list[Any] = []
        self._closed = False
        try:
            for _ in range(size):
                client = factory()
                self._all.append(client)
                self._idle.put(client)
        except BaseException:
            self.close()
            raise

    @property
    def size(self) -> int:
        return len(self._all)

    @contextmanager
    def client(self) -> Iterator[Any]:
        """Lend one client for the block; waits while every client is lent out."""
        client = self._take()
        try:
            yield client
        finally:
            self._idle.put(client)

    def _take(self) -> Any:
        while True:
            if self._closed:
                raise PoolClosed("the store is closed")
            try:
                # Wake up now and then, so a caller waiting when the store closes is told so.
                return self._idle.get(timeout=1.0)
            except queue.Empty:
                continue

    def close(self) -> None:
        self._closed = True
        for client in self._all:
            try:
                client.close()
            except Exception:  # closing is best effort: the process is stopping or the server is gone
                pass
