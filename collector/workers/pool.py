"""The collector's side of `run --workers N`: with N > 1, N child processes (collector/workers/process.py)
share the OTLP ports and hand what they accept to this process's durable queue over a link each (link.py: a
socket pair made for the child, so no other process can reach it). This process is the one writer: it owns the
queue, the store, the console and every self-metric, and takes no OTLP connection itself, so that the writer's
core is not also decoding. With N = 1 this process receives (worker 0), as without the option.

A child that exits while the collector runs is started again after a second; its connections' senders retry,
and a retry is recognised by its digest whichever process takes it. Stopping: the collector's own listeners
first, then the children (each answers what it took in, through the link), then the link."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import signal
import socket
import sys
from concurrent.futures import Future

from collector.config import Config
from collector.selfmetrics import SelfMetrics
from collector.wal import QueuedConsumer
from collector.workers import link
from pdata.consumer import ConsumeResult, Overloaded, Unavailable
from receiver.otlp.observer import IngestObserver
from receiver.otlp.shared_inflight import SharedInflight

log = logging.getLogger("cc_analytics.workers")

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
RESTART_DELAY_S = 1.0


class WorkerObserver:
    """A receiver process's observer: the self-metrics of every request, and which process answered it."""

    def __init__(self, metrics: SelfMetrics, index: int) -> None:
        self._metrics = metrics
        self._index = index

    def request_done(
        self, protocol: str, signal: str, status: str, reason: str, accepted: int, rejected: int, seconds: float
    ) -> None:
        self._metrics.request_done(protocol, signal, status, reason, accepted, rejected, seconds)
        self._metrics.worker_request_done(self._index)


class WorkerPool:
    def __init__(self, count: int, config: Config, queue: QueuedConsumer | None, metrics: SelfMetrics) -> None:
        self.count = count
        self._config = config
        self._queue = queue
        self._metrics = metrics
        self._children: dict[int, asyncio.subprocess.Process] = {}
        self._link_tasks: set[asyncio.Task[None]] = set()
        self._hello: dict[int, asyncio.Event] = {index: asyncio.Event() for index in self.child_indices}
        self._supervisors: list[asyncio.Task[None]] = []
        self._links: set[asyncio.StreamWriter] = set()
        self._stopping = False
        # The receiver processes' one in-flight budget (limits.max_inflight_bytes): a slot each, inherited.
        self._inflight = SharedInflight.create(count) if count > 1 else None
        metrics.watch_workers(count)

    @property
    def child_indices(self) -> range:
        return range(self.count) if self.count > 1 else range(0)

    @property
    def receives_here(self) -> bool:
        """Whether this process serves OTLP itself (one receiver process: this one)."""
        return self.count == 1

    def observer_for(self, index: int) -> IngestObserver:
        return WorkerObserver(self._metrics, index)

    async def start(self) -> None:
        if self.receives_here:
            return
        for index in self.child_indices:
            await self._spawn(index)
            self._supervisors.append(asyncio.create_task(self._supervise(index)))
        try:
            await asyncio.wait_for(asyncio.gather(*(event.wait() for event in self._hello.values())), START_TIMEOUT_S)
        except TimeoutError:
            raise SystemExit(
                f"receiver workers did not start within {START_TIMEOUT_S:.0f} s (see their log lines)"
            ) from None
        log.info("workers.started", extra={"fields": {"workers": self.count, "pids": self._pids()}})

    async def stop(self) -> None:
        if self.receives_here:
            return
        self._stopping = True
        for child in self._children.values():
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)
        for index, child in self._children.items():
            try:
                await asyncio.wait_for(child.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                log.error("worker.kill", extra={"fields": {"worker": index, "pid": child.pid}})
                with contextlib.suppress(ProcessLookupError):
                    child.kill()
                await child.wait()
        for task in self._supervisors:
            task.cancel()
        await asyncio.gather(*self._supervisors, return_exceptions=True)
        for writer in list(self._links):
            writer.close()
        await asyncio.gather(*self._link_tasks, return_exceptions=True)
        if self._inflight is not None:
            self._inflight.close()
        log.info("workers.stopped", extra={"fields": {"workers": self.count}})

    def _pids(self) -> list[int]:
        return [os.getpid(), *(child.pid for child in self._children.values())]

    async def _spawn(self, index: int) -> None:
        ours, theirs = socket.socketpair()
        try:
            child = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "collector.workers",
                stdin=asyncio.subprocess.PIPE,
                pass_fds=(theirs.fileno(), self._inflight_fd),
            )
        finally:
            theirs_fd = theirs.fileno()
            theirs.close()
        assert child.stdin is not None
        # The resolved configuration goes by pipe, not by environment or arguments: it may hold the store's DSN.
        child.stdin.write(json.dumps(self._start_document(index, theirs_fd, self._inflight_fd)).encode())
        await child.stdin.drain()
        child.stdin.close()
        self._children[index] = child
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        task = asyncio.create_task(self._serve_link(index, reader, writer))
        self._link_tasks.add(task)
        task.add_done_callback(self._link_tasks.discard)

    def inflight_bytes(self) -> int:
        """What the receiver processes hold in flight now (limits.max_inflight_bytes)."""
        return self._inflight.total() if self._inflight is not None else 0

    @property
    def _inflight_fd(self) -> int:
        assert self._inflight is not None, "one receiver process starts no child"
        return self._inflight.fd

    def _start_document(self, index: int, link_fd: int, inflight_fd: int) -> dict[str, object]:
        options = dataclasses.asdict(self._config)
        options["storage_dsn"] = ""  # a receiver never opens the store
        return {"index": index, "link_fd": link_fd, "inflight_fd": inflight_fd, "config": options}

    async def _supervise(self, index: int) -> None:
        while True:
            child = self._children[index]
            code = await child.wait()
            if self._stopping:
                return
            self._hello[index].clear()
            if self._inflight is not None:  # what it held is no longer in flight
                self._inflight.clear(index)
            log.error("worker.exited", extra={"fields": {"worker": index, "pid": child.pid, "exit_code": code}})
            await asyncio.sleep(RESTART_DELAY_S)
            if self._stopping:
                return
            await self._spawn(index)

    async def _serve_link(self, index: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._links.add(writer)
        loop = asyncio.get_running_loop()
        observer = self.observer_for(index)  # the child's requests, counted as the child's
        try:
            while (message := await link.read_frame(reader)) is not None:
                kind, body = message
                if kind == link.CONSUME:
                    self._consume(body, writer, loop)
                elif kind == link.OBSERVE:
                    observer.request_done(*json.loads(body))
                elif kind == link.HELLO:
                    hello = json.loads(body)
                    log.info("worker.ready", extra={"fields": {"worker": index, "pid": hello["pid"]}})
                    self._hello[index].set()
        finally:
            self._links.discard(writer)
            writer.close()

    def _consume(self, body: bytes, writer: asyncio.StreamWriter, loop: asyncio.AbstractEventLoop) -> None:
        request_id, payload = link.parse_consume(body)

        def answer(outcome: link.Outcome) -> None:
            if not writer.is_closing():
                writer.write(link.result_frame(request_id, outcome))

        def done(future: Future[ConsumeResult]) -> None:
            error = future.exception()
            outcome: link.Outcome
            if error is None:
                outcome = future.result()
            elif isinstance(error, (Overloaded, Unavailable)):
                outcome = error
            else:
                outcome = Unavailable(f"internal error: {type(error).__name__}")
            loop.call_soon_threadsafe(answer, outcome)

        if self._queue is None:
            answer(Unavailable("the collector has no durable queue"))
            return
        try:
            self._queue.consume_encoded(payload).add_done_callback(done)
        except (Overloaded, Unavailable) as exc:
            answer(exc)
        except ValueError as exc:  # a record the worker could not have meant: its sender retries
            log.error("worker.bad_record", extra={"fields": {"error": str(exc)}})
            answer(Unavailable("internal error: unreadable record"))
