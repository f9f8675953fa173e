"""A receiver worker process of `run --workers N` (started by pool.py, never by hand): the OTLP/gRPC and
OTLP/HTTP receivers on the collector's ports (SO_REUSEPORT), each request decoded, authenticated, screened by the
value policy and privacy-filtered here, then handed to the collector's durable queue over the link. It stops on
SIGTERM (answering what it took in), and when the collector is gone (the link closes, or the kernel's
parent-death signal)."""

from __future__ import annotations

import asyncio
import ctypes
import itertools
import json
import logging
import os
import signal
import socket
import sys
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

from collector import heap
from collector.config import Config
from collector.connections import plan_connections, raise_file_limit
from collector.exits import run_to_exit_code
from collector.freedmemory import FreedMemoryTrimmer, glibc_trim
from collector.listeners import Listeners, add_otlp
from collector.logs import configure
from collector.wal.codec import encode
from collector.wal.prepare import prepare
from collector.workers import link
from pdata import Batch
from pdata.consumer import ConsumeResult, Unavailable
from processors.policy import ValuePolicy
from processors.privacy import PrivacyFilter
from receiver.otlp import create_admission
from receiver.otlp.factory import create_token_auth, shared_tokens
from receiver.otlp.shared_inflight import SharedInflight

log = logging.getLogger("cc_analytics.workers")

_PR_SET_PDEATHSIG = 1
GONE = "the collector's writer process is gone"
INLINE_ENCODE_ITEMS = 256


class LinkConsumer:
    """The receivers' consumer in a worker: prepares and encodes each batch as a durable queue record and
    resolves its future with the collector's answer."""

    def __init__(self, writer: asyncio.StreamWriter, policy: ValuePolicy, privacy: PrivacyFilter) -> None:
        self._writer = writer
        self._policy = policy
        self._privacy = privacy
        self._ids = itertools.count(1)
        self._pending: dict[int, Future[ConsumeResult]] = {}
        self.closed = False

    def consume(self, batch: Batch) -> Future[ConsumeResult]:
        future: Future[ConsumeResult] = Future()
        if self.closed:
            future.set_exception(Unavailable(GONE))
            return future
        asyncio.get_running_loop().create_task(self._send(batch, future))
        return future

    async def _send(self, batch: Batch, future: Future[ConsumeResult]) -> None:
        try:
            # Screens `batch` itself (the receiver answers its partial success from it); a large one off the
            # event loop, a small one (Claude Code's own exports) on it, where a thread hop would cost more.
            if batch.size <= INLINE_ENCODE_ITEMS:
                payload = self._encode(batch)
            else:
                payload = await asyncio.to_thread(self._encode, batch)
        except Exception as exc:  # a bug must not leave the sender waiting; it gets a retryable answer
            log.exception("worker.encode_failed")
            future.set_exception(Unavailable(f"internal error: {type(exc).__name__}"))
            return
        if self.closed:
            future.set_exception(Unavailable(GONE))
            return
        request_id = next(self._ids)
        self._pending[request_id] = future
        self._writer.write(link.consume_frame(request_id, payload))

    def _encode(self, batch: Batch) -> bytes:
        return encode(prepare(batch, self._policy, self._privacy))

    def resolve(self, body: bytes) -> None:
        result = link.parse_result(body)
        future = self._pending.pop(result.request_id, None)
        if future is None:
            return
        if isinstance(result.outcome, ConsumeResult):
            future.set_result(result.outcome)
        else:
            future.set_exception(result.outcome)

    def fail_pending(self) -> None:
        """The link is gone: every request still waiting gets a retryable answer (nothing of it is known kept)."""
        self.closed = True
        for future in self._pending.values():
            future.set_exception(Unavailable(GONE))
        self._pending.clear()


class LinkObserver:
    """Each request's outcome, sent to the collector, whose self-metrics count it."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    def request_done(
        self, protocol: str, signal: str, status: str, reason: str, accepted: int, rejected: int, seconds: float
    ) -> None:
        if not self._writer.is_closing():
            document = [protocol, signal, status, reason, accepted, rejected, seconds]
            self._writer.write(link.json_frame(link.OBSERVE, document))


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the closed link stops the worker instead
        pass


async def serve(index: int, link_fd: int, inflight_fd: int, config: Config) -> None:
    reader, writer = await asyncio.open_unix_connection(sock=socket.socket(fileno=link_fd))
    processors, service = config.processors, config.service
    consumer = LinkConsumer(writer, processors.value_policy(), PrivacyFilter(processors.privacy_store_content))
    # Two listeners here (OTLP/gRPC, OTLP/HTTP), each with this process's share of the file limit.
    connections = plan_connections(service.max_connections, 2, raise_file_limit())
    receiver_config = replace(config.receiver, max_connections=connections.per_listener)
    listeners = Listeners(service, connections, receiver_config.body_timeout_s)
    auth = create_token_auth(receiver_config, shared_tokens(service.data_dir))
    add_otlp(
        listeners,
        receiver_config,
        auth,
        consumer,
        LinkObserver(writer),
        create_admission(receiver_config, SharedInflight(inflight_fd, index)),
        reuse_port=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    async def read_answers() -> None:
        while (message := await link.read_frame(reader)) is not None:
            kind, body = message
            if kind == link.RESULT:
                consumer.resolve(body)
        consumer.fail_pending()
        stop.set()

    answers = asyncio.create_task(read_answers())
    trimmer = FreedMemoryTrimmer(service.trim_interval_ms / 1000, glibc_trim(), f"worker {index}")
    trimmer.start()
    await listeners.start()
    heap.settle(f"worker {index}")
    writer.write(link.json_frame(link.HELLO, {"index": index, "pid": os.getpid()}))
    log.info("worker.started", extra={"fields": {"worker": index, "pid": os.getpid()}})
    await stop.wait()
    # In-flight requests are answered through the link, which stays open until they are.
    await listeners.stop()
    writer.close()
    answers.cancel()
    trimmer.stop()
    log.info("worker.stopped", extra={"fields": {"worker": index}})


def main() -> int:
    _die_with_parent()
    document: dict[str, Any] = json.loads(sys.stdin.read())
    config = Config(**document["config"])
    configure(config.log_level)
    os.umask(0o077)
    return run_to_exit_code(
        serve(int(document["index"]), int(document["link_fd"]), int(document["inflight_fd"]), config),
        "cc-analytics worker",
    )
