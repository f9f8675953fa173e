"""The durable queue (queue.mode=wal) on a disk that fills up for real (a small tmpfs for `<data_dir>/wal`), with
the test ClickHouse server stopped so that records wait for the store and started again.

- Below queue.min_free_bytes on the queue's disk senders get 429 with Retry-After, before the disk is full; while
  the store takes what is queued, drained records give their room back, so more than the disk holds passes.
- A disk full all the same answers 503 / UNAVAILABLE naming it until the store takes the backlog, then frees
  itself without a restart; a refused append leaves no torn bytes and no file of its own.

Not solo (conftest.py SOLO): no load is offered, and the waits are for the store and the drain, not for time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from collector.wal.segments import list_segments
from pdata import vocabulary as names
from tests.support import otlp_raw
from tests.support.queue_store import Store, running_store, send_until_refused
from tests.support.queue_store import eventually_equal as _eventually
from tests.support.queue_store import metric_value as _metric
from tests.support.queue_store import queue_collector as _collector
from tests.support.small_disk import small_disk

# Drained every 50 ms instead of 500: the tests wait for drains, not for what their size does.
FAST_DRAIN = {"CC_ANALYTICS_QUEUE_DRAIN_INTERVAL_MS": "50"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with running_store(tmp_path) as running:
        yield running


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
        _collector(tmp_path, store, **FAST_DRAIN, CC_ANALYTICS_QUEUE_MIN_FREE_BYTES=str(reserve)) as collector,
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
    store, far below queue.max_bytes: senders get 503 / UNAVAILABLE naming the full disk, with a retry hint,
    /readyz says so, and a failed write is cut away rather than followed by a new segment file per refused
    request. Once the store takes the backlog, the drained records' room is freed although the checkpoint could
    not be written on the full disk: senders are acknowledged again, and the figures are exactly what was
    acknowledged, after a SIGKILL too."""
    with (
        small_disk(tmp_path / "data" / "wal", 256 * 1024) as wal,
        _collector(tmp_path, store, **FAST_DRAIN, CC_ANALYTICS_QUEUE_MIN_FREE_BYTES="0") as collector,
    ):
        collector.start()
        store.stop()
        bodies, lines, refused = send_until_refused(collector, FULL_DISK_ORG)
        acknowledged = len(bodies)
        assert acknowledged > 10
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
