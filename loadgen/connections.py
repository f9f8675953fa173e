"""One client connection per simulated developer, as each Claude Code process holds its own.

- gRPC: a grpc.aio channel with its own subchannel pool (channels to the same target otherwise share one TCP
  connection), so each developer is one HTTP/2 connection, made at `connect()` and kept, as an OTLP exporter
  keeps its channel; grpcio reconnects it when the collector closes it.
- OTLP/HTTP: one HTTP/1.1 keep-alive connection over asyncio streams, requests one at a time, headers encoded
  once per path. A connection the server closed while idle is opened again at the next request; a request
  whose connection turns out to be closed before any byte of an answer arrived is sent again on a new one (the
  server never read it; were it to have, its digest makes it a duplicate).

`Http1Pool` sends a stream's OTLP/HTTP requests (runner.py) over a fixed set of such connections, each request on
a free one: httpx, which the runner used before, took 9–12 µs of CPU per gateway item (~3 ms per request of ~280
points and records), a tenth of what the collector itself took on the 2 cores they share (bench/README.md,
"A lighter HTTP load generator").
"""

from __future__ import annotations

import asyncio
from typing import Protocol
from urllib.parse import urlsplit

from loadgen.senders import Answer, GrpcSender, HttpSender, Sender
from loadgen.workload import Request


class Connection(Protocol):
    opened: int  # TCP connections opened so far

    async def connect(self) -> None: ...

    async def send(self, request: Request) -> Answer: ...

    async def close(self) -> None: ...


class GrpcConnection:
    def __init__(self, url: str, headers: dict[str, str], timeout_s: float) -> None:
        self._sender = GrpcSender(url, headers, timeout_s, own_connection=True)
        self.opened = 0

    async def connect(self) -> None:
        await self._sender.ready()
        self.opened = 1

    async def send(self, request: Request) -> Answer:
        self.opened = self.opened or 1
        return await self._sender.send(request)

    async def close(self) -> None:
        await self._sender.close()


class _Incomplete(Exception):
    """The connection ended in the middle of an answer."""


class Http1Connection:
    def __init__(self, url: str, headers: dict[str, str], timeout_s: float) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http":
            raise ValueError("one connection per developer speaks plain http:// (no TLS)")
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._prefix = parts.path.rstrip("/")
        authority = parts.netloc.rsplit("@", 1)[-1]
        self._extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self._authority = authority
        self._heads: dict[tuple[str, str], bytes] = {}
        self._timeout_s = timeout_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lock = asyncio.Lock()
        self.opened = 0

    def _head(self, request: Request) -> bytes:
        key = (request.signal, request.content_type)
        head = self._heads.get(key)
        if head is None:
            head = (
                f"POST {self._prefix}/v1/{request.signal} HTTP/1.1\r\nHost: {self._authority}\r\n"
                f"Content-Type: {request.content_type}\r\n{self._extra}Content-Length: "
            ).encode()
            self._heads[key] = head
        return head

    async def connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        self.opened += 1

    async def send(self, request: Request) -> Answer:
        message = self._head(request) + b"%d\r\n\r\n" % len(request.body) + request.body
        async with self._lock:
            for _ in range(2):
                reused = self._writer is not None
                try:
                    async with asyncio.timeout(self._timeout_s):
                        if self._writer is None:
                            await self.connect()
                        assert self._writer is not None
                        self._writer.write(message)
                        return await self._answer()
                except TimeoutError:
                    self._drop()
                    return Answer("timeout", False)
                except _Incomplete:
                    self._drop()
                    return Answer("RemoteProtocolError", False, connection_failed=True)
                except (ConnectionError, asyncio.IncompleteReadError) as exc:
                    self._drop()
                    if not reused:
                        return Answer(type(exc).__name__, False, connection_failed=True)
            return Answer("ConnectionError", False, connection_failed=True)

    async def _answer(self) -> Answer:
        reader = self._reader
        assert reader is not None
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise _Incomplete from exc
            raise  # nothing read: the server had closed the connection while it was idle
        try:
            lines = head.decode("latin-1").split("\r\n")
            status = lines[0].split(" ", 2)[1]
            fields = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                fields[name.strip().lower()] = value.strip()
            if fields.get("transfer-encoding", "").lower() == "chunked":
                while size := int((await reader.readline()).split(b";")[0].strip() or b"0", 16):
                    await reader.readexactly(size + 2)
                while (await reader.readline()) not in (b"\r\n", b""):
                    pass
            elif "content-length" in fields:
                await reader.readexactly(int(fields["content-length"]))
            elif status not in ("204", "304"):
                await reader.read()
                fields["connection"] = "close"
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, IndexError) as exc:
            raise _Incomplete from exc
        if fields.get("connection", "").lower() == "close":
            self._drop()
        return Answer(status, status.startswith("2"), fields.get("retry-after"))

    def _drop(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def close(self) -> None:
        writer = self._writer
        self._drop()
        if writer is not None:
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass


class Http1Pool:
    """A Sender over `connections` Http1Connections (plain http:// only): each request waits for a free one."""

    def __init__(self, url: str, headers: dict[str, str], timeout_s: float, connections: int) -> None:
        self._all = [Http1Connection(url, headers, timeout_s) for _ in range(max(1, connections))]
        self._free: asyncio.Queue[Http1Connection] = asyncio.Queue()
        for connection in self._all:
            self._free.put_nowait(connection)

    async def send(self, request: Request) -> Answer:
        connection = await self._free.get()
        try:
            return await connection.send(request)
        finally:
            self._free.put_nowait(connection)

    async def close(self) -> None:
        await asyncio.gather(*(connection.close() for connection in self._all))


def sender_for(protocol: str, url: str, headers: dict[str, str], timeout_s: float, connections: int) -> Sender:
    """The runner's sender: one gRPC channel, or up to `connections` HTTP/1.1 connections (httpx for https://)."""
    if protocol == "grpc":
        return GrpcSender(url, headers, timeout_s)
    if urlsplit(url).scheme == "http":
        return Http1Pool(url, headers, timeout_s, connections)
    return HttpSender(url, headers, timeout_s, connections)


def connection_for(protocol: str, url: str, headers: dict[str, str], timeout_s: float) -> Connection:
    if protocol == "grpc":
        return GrpcConnection(url, headers, timeout_s)
    return Http1Connection(url, headers, timeout_s)
