"""The durable queue (queue.mode=wal) against real collector processes on the test ClickHouse server, which is
stopped to make the store unable to take writes and started again on the same data directory and port.

- Requests are acknowledged while the store is down; a collector killed with SIGKILL (with the backlog queued,
  or in the middle of draining it) and restarted once the store is back gives the known workload's figures
  exactly: nothing acknowledged is lost, nothing replayed is counted twice, cumulative series stay exact.
- A torn or bit-flipped last record is logged as queue.corrupt_record and skipped; everything before it counts.
- Past queue.max_bytes or queue.max_age_seconds senders get 429 with Retry-After / RESOURCE_EXHAUSTED, except
  for a request acknowledged before, sent again (a duplicate); what was acknowledged is counted exactly once the
  store is back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from collector.wal.frame import Record, scan
from collector.wal.segments import list_segments, segment_path
from pdata import vocabulary as names
from tests.support import otlp_raw, workload
from tests.support.collector import CollectorProcess
from tests.support.queue_store import DEADLINE_S, Store, running_store, send_until_refused
from tests.support.queue_store import eventually_equal as _eventually
from tests.support.queue_store import metric_value as _metric
from tests.support.queue_store import queue_collector as _collector


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with running_store(tmp_path) as running:
        yield running


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
        acknowledged, lines, refused = send_until_refused(collector, OVERLOAD_ORG)
        assert len(acknowledged) > 10
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
