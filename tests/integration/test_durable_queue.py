"""The durable queue (queue.mode=wal) against real collector processes on the test ClickHouse server, which is
stopped to make the store unable to take writes and started again on the same data directory and port.

- Requests are acknowledged while the store is down; a collector killed with SIGKILL (with the backlog queued,
  or in the middle of draining it) and restarted once the store is back gives the known workload's figures
  exactly: nothing acknowledged is lost, nothing replayed is counted twice, cumulative series stay exact.
- A torn or bit-flipped last record is logged as queue.corrupt_record and skipped; everything before it counts.
- Past queue.max_bytes or queue.max_age_seconds senders get 429 with Retry-After / RESOURCE_EXHAUSTED, except
  for a request acknowledged before, sent again (a duplicate); what was acknowledged is counted exactly once the
  store is back.
- Below queue.min_free_bytes on the queue's disk senders get 429 with Retry-After, and drained records give their
  room back; a disk that fills up all the same answers 503 / UNAVAILABLE until the store takes the backlog, then
  frees itself.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from collector.wal.frame import Record, scan
from collector.wal.segments import list_segments, segment_path
from pdata import vocabulary as names
from tests.support import otlp_raw, workload
from tests.support.children import eventually
from tests.support.clickhouse_http import ClickHouseHttpServer
from tests.support.collector import CollectorProcess
from tests.support.small_disk import small_disk

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


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    running = Store(tmp_path / "clickhouse").start()
    try:
        yield running
    finally:
        if running.server is not None:
            running.server.kill()


@contextmanager
def _collector(tmp_path: Path, store: Store, **env: str) -> Iterator[CollectorProcess]:
    process = CollectorProcess(
        data_dir=tmp_path / "data", extra_env={**WAL, "CC_ANALYTICS_STORAGE_DSN": store.dsn(), **env}
    )
    try:
        yield process
    finally:
        process.kill()


def _metric(collector: CollectorProcess, family: str) -> float:
    """A collector family's value on /metrics (its one sample), once the start-up hold shows counters, whatever
    the queue holds (these tests watch it fill and drain)."""
    samples = collector.metric_samples(family, drained=False)
    assert len(samples) == 1, f"{family} on /metrics: {samples}"
    return samples[0].value


def _eventually(read: Callable[[], Any], expected: Any) -> Any:
    """`read()` once it equals `expected`, or its last value at the deadline (for the assertion to show)."""
    return eventually(read, expected, DEADLINE_S, every_s=0.5)


# The known workload's requests: three metric exports and one of events.
WORKLOAD_REQUESTS = 4


def _wal_bytes(collector: CollectorProcess) -> int:
    directory = collector.data_dir / "wal"
    return sum(segment_path(directory, segment).stat().st_size for segment in list_segments(directory))


def test_sigkill_with_a_backlog_queued_while_the_store_is_down_loses_nothing_and_counts_nothing_twice(
    tmp_path: Path, store: Store
) -> None:
    with _collector(tmp_path, store) as collector:
        collector.start()
        store.stop()
        workload.send_json(collector.otlp_http_url, "cumulative")  # every request answered 200 (asserted)
        queued = _wal_bytes(collector)
        assert queued > 0
        assert _metric(collector, names.DURABLE_QUEUE_BYTES.name) == queued
        collector.kill()
    store.start()
    with _collector(tmp_path, store) as restarted:
        restarted.start()
        assert (
            _eventually(lambda: otlp_raw.workload_figures(restarted), otlp_raw.EXPECTED_WORKLOAD)
            == otlp_raw.EXPECTED_WORKLOAD
        )
        assert _eventually(lambda: _metric(restarted, names.DURABLE_QUEUE_BYTES.name), 0.0) == 0.0
        assert _metric(restarted, names.DURABLE_QUEUE_REPLAYED.sample) == WORKLOAD_REQUESTS
        assert _metric(restarted, names.DURABLE_QUEUE_DRAINED.sample) == WORKLOAD_REQUESTS
        assert _metric(restarted, names.DURABLE_QUEUE_CORRUPT.sample) == 0
        assert list_segments(restarted.data_dir / "wal") == []  # drained segments are deleted
        # Restarted again (gracefully: the counters go on from their values): nothing is replayed a second time.
        assert restarted.stop() == 0
        restarted.start()
        assert _metric(restarted, names.DURABLE_QUEUE_REPLAYED.sample) == WORKLOAD_REQUESTS
        assert _metric(restarted, names.DURABLE_QUEUE_DRAINED.sample) == WORKLOAD_REQUESTS
        assert otlp_raw.workload_figures(restarted) == otlp_raw.EXPECTED_WORKLOAD


BACKLOG_REQUESTS = 80
CUMULATIVE_ORG = "org-backlog-cumulative"
DELTA_ORG = "org-backlog-delta"


def test_sigkill_in_the_middle_of_draining_a_large_backlog_counts_every_request_once(
    tmp_path: Path, store: Store
) -> None:
    # Small drain groups make the drain many small inserts, so the collector is killed between two of them.
    env = {"CC_ANALYTICS_QUEUE_DRAIN_GROUP_ITEMS": "6", "CC_ANALYTICS_QUEUE_FSYNC": "never"}
    base_ns = otlp_raw.now_ns()
    with _collector(tmp_path, store, **env) as collector:
        collector.start()
        store.stop()
        for index in range(BACKLOG_REQUESTS):
            # One cumulative series whose running total reaches BACKLOG_REQUESTS, and delta edits.
            cumulative = otlp_raw.cumulative_lines_request(CUMULATIVE_ORG, index + 1, base_ns + index, base_ns - 1)
            otlp_raw.send(collector, "http/protobuf", cumulative)
            edit = otlp_raw.edit_request(DELTA_ORG, lines=index % 7 + 1, session=f"s{index}", time_ns=base_ns)
            otlp_raw.send(collector, "grpc", edit)
        store.start()
        drained = names.DURABLE_QUEUE_DRAINED.sample
        deadline = time.monotonic() + DEADLINE_S
        while _metric(collector, drained) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert 0 < _metric(collector, drained) < 2 * BACKLOG_REQUESTS
        collector.kill()
    with _collector(tmp_path, store, **env) as restarted:
        restarted.start()
        assert _metric(restarted, names.DURABLE_QUEUE_REPLAYED.sample) < 2 * BACKLOG_REQUESTS  # still draining
        assert _metric(restarted, names.QUEUE_CAPACITY.name) == 12  # the writer holds two drain groups
        lines = sum(index % 7 + 1 for index in range(BACKLOG_REQUESTS))
        expected = otlp_raw.edit_figures(lines, accepts=BACKLOG_REQUESTS, sessions=BACKLOG_REQUESTS)
        assert _eventually(lambda: otlp_raw.figures(restarted, DELTA_ORG), expected) == expected
        cumulative_lines = _eventually(
            lambda: otlp_raw.figures(restarted, CUMULATIVE_ORG)["accepted_lines"], BACKLOG_REQUESTS
        )
        assert cumulative_lines == BACKLOG_REQUESTS
        assert _eventually(lambda: _metric(restarted, names.DURABLE_QUEUE_BYTES.name), 0.0) == 0.0
        # What was left drained in groups of at most 6 points, an insert each (at the default 20 000, one insert).
        assert _metric(restarted, f"{names.STORE_WRITE_DURATION.name}_count") >= 10


@pytest.mark.parametrize("damage", ["truncate", "bit_flip"])
def test_a_damaged_last_record_is_logged_and_skipped_and_everything_before_it_counts(
    tmp_path: Path, store: Store, damage: str
) -> None:
    with _collector(tmp_path, store, CC_ANALYTICS_QUEUE_FSYNC="always") as collector:
        collector.start()
        store.stop()
        workload.send_json(collector.otlp_http_url, "delta")
        otlp_raw.send(collector, "http/json", otlp_raw.edit_request("org-damaged", lines=1000))
        assert collector.stop() == 0  # the store is down: the backlog stays queued
    directory = collector.data_dir / "wal"
    segment = list_segments(directory)[-1]
    path = segment_path(directory, segment)
    data = bytearray(path.read_bytes())
    records = [item for item in scan(bytes(data)) if isinstance(item, Record)]
    assert len(records) == WORKLOAD_REQUESTS + 1
    last = records[-1]
    if damage == "truncate":  # a write torn by a power failure
        path.write_bytes(bytes(data[: last.offset + last.size // 2]))
        skipped, reason = last.size // 2, "truncated"
    else:
        data[last.offset + last.size // 2] ^= 0x20
        path.write_bytes(bytes(data))
        skipped, reason = last.size, "checksum mismatch"

    store.start()
    with _collector(tmp_path, store) as restarted:
        restarted.start()
        assert (
            _eventually(lambda: otlp_raw.workload_figures(restarted), otlp_raw.EXPECTED_WORKLOAD)
            == otlp_raw.EXPECTED_WORKLOAD
        )
        assert otlp_raw.figures(restarted, "org-damaged") == otlp_raw.ZERO
        assert _metric(restarted, names.DURABLE_QUEUE_CORRUPT.sample) == 1
        assert _metric(restarted, names.DURABLE_QUEUE_REPLAYED.sample) == WORKLOAD_REQUESTS
        damage_lines = [line for line in restarted.log().splitlines() if '"queue.corrupt_record"' in line]
        assert len(damage_lines) == 1
        logged = json.loads(damage_lines[0])
        assert (logged["segment"], logged["offset"], logged["bytes_skipped"], logged["reason"]) == (
            segment, last.offset, skipped, reason
        )  # fmt: skip
        # Appends continue after the cut: a new request counts.
        otlp_raw.send(restarted, "grpc", otlp_raw.edit_request("org-after", lines=3))
        expected = otlp_raw.edit_figures(3)
        assert _eventually(lambda: otlp_raw.figures(restarted, "org-after"), expected) == expected


OVERLOAD_ORG = "org-queue-full"


def test_past_max_bytes_senders_are_told_to_retry_and_everything_acknowledged_counts_once_the_store_is_back(
    tmp_path: Path, store: Store
) -> None:
    with _collector(tmp_path, store, CC_ANALYTICS_QUEUE_MAX_BYTES="65536") as collector:
        collector.start()
        store.stop()
        assert httpx.get(f"{collector.api_url}/readyz", timeout=10).status_code == 200  # the outage is absorbed
        acknowledged: list[bytes] = []
        lines = 0
        refused: httpx.Response | None = None
        for index in range(1000):
            body = otlp_raw.to_protobuf(otlp_raw.edit_request(OVERLOAD_ORG, lines=index + 1, session=f"s{index}"))
            response = otlp_raw.post(collector, "metrics", body)
            if response.status_code != 200:
                refused = response
                break
            acknowledged.append(body)
            lines += index + 1
        assert refused is not None and len(acknowledged) > 10
        assert (refused.status_code, refused.headers.get("retry-after")) == (429, "5")
        assert "durable queue is full" in refused.text
        with pytest.raises(grpc.RpcError) as over_grpc:
            otlp_raw.grpc_export(collector, "metrics", otlp_raw.to_protobuf(otlp_raw.edit_request(OVERLOAD_ORG, 99)))
        assert over_grpc.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert dict(over_grpc.value.trailing_metadata() or ())["retry-after"] == "5"
        assert httpx.get(f"{collector.api_url}/readyz", timeout=10).status_code == 503
        # A retry of a request still queued is recognised, full or not.
        assert otlp_raw.post(collector, "metrics", acknowledged[0]).status_code == 200

        store.start()
        expected = otlp_raw.edit_figures(lines, accepts=len(acknowledged), sessions=len(acknowledged))
        assert _eventually(lambda: otlp_raw.figures(collector, OVERLOAD_ORG), expected) == expected
        assert _eventually(lambda: _metric(collector, names.DURABLE_QUEUE_BYTES.name), 0.0) == 0.0
        assert _metric(collector, names.DURABLE_QUEUE_DRAINED.sample) == len(acknowledged)
        assert otlp_raw.post(collector, "metrics", acknowledged[-1]).status_code == 200  # a duplicate now
        assert otlp_raw.figures(collector, OVERLOAD_ORG) == expected


def test_past_max_age_a_retry_of_a_request_acknowledged_before_is_a_duplicate_not_told_to_wait(
    tmp_path: Path, store: Store
) -> None:
    """While the oldest queued record is older than queue.max_age_seconds, new requests get 429 / Retry-After; a
    request acknowledged before (stored before the outage, or still queued) sent again is answered 200 as the
    duplicate it is, and counted once."""
    with _collector(tmp_path, store, CC_ANALYTICS_QUEUE_MAX_AGE_SECONDS="2") as collector:
        collector.start()
        stored = otlp_raw.to_protobuf(otlp_raw.edit_request(OVERLOAD_ORG, lines=3, session="stored"))
        queued = otlp_raw.to_protobuf(otlp_raw.edit_request(OVERLOAD_ORG, lines=5, session="queued"))
        assert otlp_raw.post(collector, "metrics", stored).status_code == 200
        collector.drained()
        store.stop()
        assert otlp_raw.post(collector, "metrics", queued).status_code == 200
        time.sleep(2.5)
        fresh = otlp_raw.to_protobuf(otlp_raw.edit_request(OVERLOAD_ORG, lines=7, session="fresh"))
        refused = otlp_raw.post(collector, "metrics", fresh)
        assert (refused.status_code, refused.headers.get("retry-after")) == (429, "5")
        assert "queue.max_age_seconds" in refused.text
        assert otlp_raw.post(collector, "metrics", queued).status_code == 200
        assert otlp_raw.post(collector, "metrics", stored).status_code == 200
        with pytest.raises(grpc.RpcError) as over_grpc:
            otlp_raw.grpc_export(collector, "metrics", fresh)
        assert over_grpc.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        otlp_raw.grpc_export(collector, "metrics", stored)  # OK: a duplicate

        store.start()
        expected = otlp_raw.edit_figures(3 + 5, accepts=2, sessions=2)
        assert _eventually(lambda: otlp_raw.figures(collector, OVERLOAD_ORG), expected) == expected
        assert collector.metric_sum(names.OTLP_REQUESTS.sample, status="duplicate") == 3


FULL_DISK_ORG = "org-queue-disk-full"


RESERVE_ORG = "org-queue-reserve"
EDITS_PER_REQUEST = 20


def _edits(org: str, name: str, lines: int) -> bytes:
    """One metrics request of EDITS_PER_REQUEST edits of `lines` lines, each in a session of its own (a record of
    ~20 KB in the queue)."""
    request = otlp_raw.edit_request(org, lines=lines, session=f"{name}-0")
    metrics = request["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
    for index in range(1, EDITS_PER_REQUEST):
        other = otlp_raw.edit_request(org, lines=lines, session=f"{name}-{index}")
        metrics.extend(other["resourceMetrics"][0]["scopeMetrics"][0]["metrics"])
    return otlp_raw.to_protobuf(request)


def test_below_min_free_bytes_senders_get_429_and_the_queue_recycles_what_is_drained(
    tmp_path: Path, store: Store
) -> None:
    """The queue's own disk (1 MiB) with queue.min_free_bytes 256 KiB. While the store takes what is queued, more
    records than the disk holds pass through it, all acknowledged: the segment appended to is left as the disk
    runs short, and deleted once drained. With the store down, senders get 429 / RESOURCE_EXHAUSTED with a retry
    hint naming queue.min_free_bytes before the disk is full (never a 503), /readyz says so, and once the store
    is back every acknowledged request counts exactly once and senders are acknowledged again."""
    reserve = 256 * 1024
    with (
        small_disk(tmp_path / "data" / "wal", 1024 * 1024) as wal,
        _collector(tmp_path, store, CC_ANALYTICS_QUEUE_MIN_FREE_BYTES=str(reserve)) as collector,
    ):
        collector.start()
        requests, lines, passed_bytes = 0, 0, 0
        while passed_bytes < 2 * 1024 * 1024:  # twice what the disk holds
            body = _edits(RESERVE_ORG, f"through{requests}", lines=1)
            assert otlp_raw.post(collector, "metrics", body).status_code == 200, f"request {requests}"
            requests, lines, passed_bytes = requests + 1, lines + EDITS_PER_REQUEST, passed_bytes + len(body)
            if requests % 4 == 0:
                # Drained before more come: what waits for the store (~100 KB) stays within the margin the queue
                # leaves itself above the reserve, whatever the machine's speed.
                collector.drained()
        edits = requests * EDITS_PER_REQUEST
        expected = otlp_raw.edit_figures(lines, accepts=edits, sessions=edits)
        assert _eventually(lambda: otlp_raw.figures(collector, RESERVE_ORG), expected) == expected

        store.stop()
        refused: httpx.Response | None = None
        for index in range(200):
            response = otlp_raw.post(collector, "metrics", _edits(RESERVE_ORG, f"queued{index}", lines=index + 2))
            if response.status_code != 200:
                refused = response
                break
            requests, lines = requests + 1, lines + EDITS_PER_REQUEST * (index + 2)
        assert refused is not None
        assert (refused.status_code, refused.headers.get("retry-after")) == (429, "5")
        assert "queue.min_free_bytes keeps 262144" in refused.text
        stats = os.statvfs(wal)
        assert stats.f_bavail * stats.f_frsize >= reserve - 32 * 1024  # refused before the disk was full
        with pytest.raises(grpc.RpcError) as over_grpc:
            otlp_raw.grpc_export(collector, "metrics", _edits(RESERVE_ORG, "refused", lines=99))
        assert over_grpc.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        ready = httpx.get(f"{collector.api_url}/readyz", timeout=10)
        assert ready.status_code == 503 and "queue.min_free_bytes" in ready.text

        store.start()
        edits = requests * EDITS_PER_REQUEST
        expected = otlp_raw.edit_figures(lines, accepts=edits, sessions=edits)
        assert _eventually(lambda: otlp_raw.figures(collector, RESERVE_ORG), expected) == expected
        body = _edits(RESERVE_ORG, "after", lines=1000)
        assert _eventually(lambda: otlp_raw.post(collector, "metrics", body).status_code, 200) == 200
        edits += EDITS_PER_REQUEST
        expected = otlp_raw.edit_figures(lines + 1000 * EDITS_PER_REQUEST, accepts=edits, sessions=edits)
        assert _eventually(lambda: otlp_raw.figures(collector, RESERVE_ORG), expected) == expected


def test_a_full_disk_answers_503_and_frees_itself_once_the_store_takes_the_queue(tmp_path: Path, store: Store) -> None:
    """The queue's own disk (a file system of 256 KiB, queue.min_free_bytes 0) filled by records waiting for the
    store, far below queue.max_bytes: senders get 503 / UNAVAILABLE naming the full disk, with a retry hint, /readyz says so, and a
    failed write is cut away rather than followed by a new segment file per refused request. Once the store takes
    the backlog, the drained records' room is freed although the checkpoint could not be written on the full disk:
    senders are acknowledged again, and the figures are exactly what was acknowledged, after a SIGKILL too."""
    with (
        small_disk(tmp_path / "data" / "wal", 256 * 1024) as wal,
        _collector(tmp_path, store, CC_ANALYTICS_QUEUE_MIN_FREE_BYTES="0") as collector,
    ):
        collector.start()
        store.stop()
        acknowledged, lines = 0, 0
        refused: httpx.Response | None = None
        for index in range(1000):
            body = otlp_raw.to_protobuf(otlp_raw.edit_request(FULL_DISK_ORG, lines=index + 1, session=f"s{index}"))
            response = otlp_raw.post(collector, "metrics", body)
            if response.status_code != 200:
                refused = response
                break
            acknowledged += 1
            lines += index + 1
        assert refused is not None and acknowledged > 10
        assert (refused.status_code, refused.headers.get("retry-after")) == (503, "5")
        assert "the durable queue cannot write: No space left on device" in refused.text
        for index in range(40):
            body = otlp_raw.to_protobuf(otlp_raw.edit_request(FULL_DISK_ORG, lines=1, session=f"refused{index}"))
            assert otlp_raw.post(collector, "metrics", body).status_code == 503
        with pytest.raises(grpc.RpcError) as over_grpc:
            otlp_raw.grpc_export(collector, "metrics", otlp_raw.to_protobuf(otlp_raw.edit_request(FULL_DISK_ORG, 99)))
        assert over_grpc.value.code() == grpc.StatusCode.UNAVAILABLE
        assert len(list_segments(wal)) == 1
        ready = httpx.get(f"{collector.api_url}/readyz", timeout=10)
        assert ready.status_code == 503 and "the durable queue's disk is full" in ready.text

        store.start()
        expected = otlp_raw.edit_figures(lines, accepts=acknowledged, sessions=acknowledged)
        assert _eventually(lambda: otlp_raw.figures(collector, FULL_DISK_ORG), expected) == expected
        assert _eventually(lambda: httpx.get(f"{collector.api_url}/readyz", timeout=10).status_code, 200) == 200
        for index in range(3):
            body = otlp_raw.to_protobuf(otlp_raw.edit_request(FULL_DISK_ORG, lines=1000, session=f"after{index}"))
            assert otlp_raw.post(collector, "metrics", body).status_code == 200
        expected = otlp_raw.edit_figures(lines + 3000, accepts=acknowledged + 3, sessions=acknowledged + 3)
        assert _eventually(lambda: otlp_raw.figures(collector, FULL_DISK_ORG), expected) == expected
        assert len(list_segments(wal)) == 1

        collector.kill()
        collector.start()
        collector.drained()
        assert otlp_raw.figures(collector, FULL_DISK_ORG) == expected
        assert _metric(collector, names.DURABLE_QUEUE_CORRUPT.sample) == 0
