"""A loopback L4 (TCP) load balancer for the tests, run on an asyncio loop in a thread of its own.

It stands where nginx's `stream` module or a cloud TCP balancer stands in front of collector replicas: one
listener per protocol (e.g. `http` for OTLP/HTTP, `grpc` for OTLP/gRPC; TCP passthrough carries HTTP/1.1 and
HTTP/2 alike) and N backends, each a mapping of listener name to the backend's port on 127.0.0.1.

- Per incoming connection it picks a backend: the one planned with `route_next(index)` if any, else a random
  live backend (a seeded random.Random, so a failure replays) other than the backend of the previous
  connection, so that a client's retry on a new connection reaches another replica, as balancers with
  `proxy_next_upstream`-style retries do.
- A backend that refuses the connection (a killed replica) is marked down for `down_seconds` and the next
  candidate is tried (a passive health check); each refusal is counted in `connect_failures`. A backend
  marked down is skipped until its mark expires, except when a plan names it.
- Bytes are relayed both ways unchanged until both sides have closed (half-closes are passed on).
- Every connection's route (listener, backend index, backends that refused it first) is appended to
  `routes`, so a test can assert where each of its connections went and print the lot on failure. When no
  backend takes a connection, its route has backend None and the client's connection is closed.

    with LoadBalancer([{"http": a.http_port, "grpc": a.grpc_port}, ...], seed=9) as balancer:
        httpx.post(f"http://127.0.0.1:{balancer.ports['http']}/v1/metrics", ...)
        balancer.routes[-1]   # Route(listener='http', backend=2, refused=())
"""

from __future__ import annotations

import asyncio
import functools
import random
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType

_CHUNK = 65_536


@dataclass(frozen=True)
class Route:
    """Where one client connection went."""

    listener: str
    backend: int | None  # None: no backend took it, and the client's connection was closed
    refused: tuple[int, ...] = ()  # backends tried first that refused the connection, in order


class LoadBalancer:
    def __init__(
        self,
        backends: Sequence[Mapping[str, int]],
        seed: int = 0,
        down_seconds: float = 2.0,
        host: str = "127.0.0.1",
    ) -> None:
        if not backends:
            raise ValueError("a load balancer needs at least one backend")
        names = {frozenset(backend) for backend in backends}
        if len(names) != 1:
            raise ValueError("every backend must have a port for each listener")
        self.listeners = sorted(next(iter(names)))
        self.backends = [dict(backend) for backend in backends]
        self.host = host
        self.down_seconds = down_seconds
        self.ports: dict[str, int] = {}
        self.routes: list[Route] = []
        self.connect_failures = 0
        self._random = random.Random(seed)
        self._down_until: dict[int, float] = {}
        self._planned: deque[int] = deque()
        self._previous: int | None = None
        # routes, plans and counters are read and written by the test's thread and the loop's thread
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="load-balancer", daemon=True)
        self._servers: list[asyncio.Server] = []
        self._connections: set[asyncio.Task[None]] = set()

    # --- the test's side ---------------------------------------------------------------------------------------

    def start(self, timeout_s: float = 10.0) -> LoadBalancer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout_s)
        return self

    def close(self, timeout_s: float = 10.0) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout_s)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout_s)
        self._loop.close()

    def __enter__(self) -> LoadBalancer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def url(self, listener: str) -> str:
        return f"http://{self.host}:{self.ports[listener]}"

    def target(self, listener: str) -> str:
        """host:port, as a gRPC channel takes it."""
        return f"{self.host}:{self.ports[listener]}"

    def route_next(self, backend: int) -> None:
        """The next connection (whichever listener) goes to `backend` first, down or not."""
        if not 0 <= backend < len(self.backends):
            raise ValueError(f"no backend {backend}")
        with self._lock:
            self._planned.append(backend)

    def routes_since(self, count: int) -> list[Route]:
        """The routes after the first `count` (len(routes) taken before sending)."""
        with self._lock:
            return self.routes[count:]

    # --- the loop's side ---------------------------------------------------------------------------------------

    async def _listen(self) -> None:
        for listener in self.listeners:
            server = await asyncio.start_server(functools.partial(self._accept, listener), self.host, 0)
            self.ports[listener] = server.sockets[0].getsockname()[1]
            self._servers.append(server)

    async def _shutdown(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _accept(self, listener: str, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        upstream: asyncio.StreamWriter | None = None
        try:
            connected = await self._connect(listener)
            if connected is None:
                return
            upstream_reader, upstream = connected
            await asyncio.gather(_relay(client_reader, upstream), _relay(upstream_reader, client))
        finally:
            for writer in (client, upstream):
                if writer is not None:
                    writer.close()
            self._connections.discard(task)

    async def _connect(self, listener: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        with self._lock:
            planned = self._planned.popleft() if self._planned else None
        refused: list[int] = []
        while (backend := self._choose(planned, refused)) is not None:
            planned = None
            try:
                connected = await asyncio.open_connection(self.host, self.backends[backend][listener])
            except OSError:
                with self._lock:
                    self._down_until[backend] = time.monotonic() + self.down_seconds
                    self.connect_failures += 1
                refused.append(backend)
                continue
            with self._lock:
                self._previous = backend
                self.routes.append(Route(listener, backend, tuple(refused)))
            return connected
        with self._lock:
            self.routes.append(Route(listener, None, tuple(refused)))
        return None

    def _choose(self, planned: int | None, refused: list[int]) -> int | None:
        if planned is not None:
            return planned
        now = time.monotonic()
        with self._lock:
            untried = [index for index in range(len(self.backends)) if index not in refused]
            live = [index for index in untried if self._down_until.get(index, 0.0) <= now]
            # Every backend marked down: try them anyway, as a balancer does rather than refuse everything.
            candidates = live or untried
            if not candidates:
                return None
            others = [index for index in candidates if index != self._previous] or candidates
            return self._random.choice(others)


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of stream, then pass the half-close on; a reset ends both directions."""
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        writer.close()  # the other direction's reader sees the end of its stream too
