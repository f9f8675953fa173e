"""One client connection per simulated developer, as each Claude Code process holds its own.

- gRPC: a grpc.aio channel with its own subchannel pool (channels to the same target otherwise share one TCP
  connection), so each developer is one HTTP/2 connection, made at `connect()` and kept, as an OTLP exporter
  keeps its channel; grpcio reconnects it when the collector closes it.
- OTLP/HTTP: one HTTP/1.1 keep-alive connection over asyncio streams, requests one at a time, headers encoded
  once per path. A connection the server closed while idle is opened again at the next request; a request
  whose connection turns out to be closed before any byte of an answer arrived is sent again on a new one (the
  server never read it; were it to have, its digest makes it a duplicate).
"""

from __future__ import annotations

import asyncio
from typing import Protocol
from urllib.parse import urlsplit

from loadgen.senders import Answer, GrpcSender
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
                    return Answer("RemoteProtocolError", False)
                except (ConnectionError, asyncio.IncompleteReadError) as exc:
                    self._drop()
                    if not reused:
                        return Answer(type(exc).__name__, False)
            return Answer("ConnectionError", False)

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


def connection_for(protocol: str, url: str, headers: dict[str, str], timeout_s: float) -> Connection:
    if protocol == "grpc":
        return GrpcConnection(url, headers, timeout_s)
    return Http1Connection(url, headers, timeout_s)
