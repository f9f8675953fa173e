"""What the durable queue's tests share: the test ClickHouse server that they stop (a store that cannot take
writes) and start again on the same data directory and port, a collector on it in queue.mode=wal, and the
readings they wait for."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support import otlp_raw
from tests.support.children import eventually
from tests.support.clickhouse_http import ClickHouseHttpServer
from tests.support.collector import CollectorProcess

WAL = {"CC_ANALYTICS_QUEUE_MODE": "wal"}
DEADLINE_S = 120


@dataclass
class Store:
    """The test ClickHouse server, stopped and started again on the same data directory and port."""

    data_dir: Path
    server: ClickHouseHttpServer | None = None
    port: int = 0

    def start(self) -> Store:
        self.server = ClickHouseHttpServer(data_dir=self.data_dir, **({"port": self.port} if self.port else {}))
        self.server.start()
        self.port = self.server.port
        return self

    def stop(self) -> None:
        assert self.server is not None
        self.server.stop()

    def dsn(self) -> str:
        assert self.server is not None
        return self.server.dsn("durable_queue")


@contextmanager
def running_store(tmp_path: Path) -> Iterator[Store]:
    running = Store(tmp_path / "clickhouse").start()
    try:
        yield running
    finally:
        if running.server is not None:
            running.server.kill()


@contextmanager
def queue_collector(tmp_path: Path, store: Store, **env: str) -> Iterator[CollectorProcess]:
    """A collector with the durable queue on `store`, in `tmp_path / "data"`; killed at the end."""
    process = CollectorProcess(
        data_dir=tmp_path / "data", extra_env={**WAL, "CC_ANALYTICS_STORAGE_DSN": store.dsn(), **env}
    )
    try:
        yield process
    finally:
        process.kill()


def metric_value(collector: CollectorProcess, family: str) -> float:
    """A collector family's value on /metrics (its one sample), once the start-up hold shows counters, whatever
    the queue holds (these tests watch it fill and drain)."""
    samples = collector.metric_samples(family, drained=False)
    assert len(samples) == 1, f"{family} on /metrics: {samples}"
    return samples[0].value


def eventually_equal(read: Callable[[], Any], expected: Any) -> Any:
    """`read()` once it equals `expected`, or its last value at the deadline (for the assertion to show)."""
    return eventually(read, expected, DEADLINE_S, every_s=0.5)


def send_until_refused(
    collector: CollectorProcess, org: str, limit: int = 1000
) -> tuple[list[bytes], int, httpx.Response]:
    """Edit requests of 1, 2, 3… lines, each a session of its own, sent until one is not answered 200: the bodies
    acknowledged, their lines, and the refusal."""
    acknowledged: list[bytes] = []
    lines = 0
    for index in range(limit):
        body = otlp_raw.to_protobuf(otlp_raw.edit_request(org, lines=index + 1, session=f"s{index}"))
        response = otlp_raw.post(collector, "metrics", body)
        if response.status_code != 200:
            return acknowledged, lines, response
        acknowledged.append(body)
        lines += index + 1
    raise AssertionError(f"{limit} requests all acknowledged: none refused")
