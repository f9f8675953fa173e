"""`run --workers 2` (queue.mode=wal): two receiver processes share the OTLP ports; the collector process is
the one writer and takes no OTLP connection itself.

- Over every protocol and both temporalities the known workload gives its exact figures.
- Every request of the workload sent six times, each time on a new connection (which the kernel gives to
  either process), is counted once, and both processes answered requests.
- A worker killed with SIGKILL is started again; its senders' retries go through, and the figures are exact.
- The writer and each receiver process hand the heap memory they freed back to the system
  (`memory.trim_interval_ms`, collector/freedmemory.py), each saying so once in the log.
- A collector killed with SIGKILL right after acknowledging takes its worker with it (the port is free for the
  next start); the next start completes the insert in progress and drains the queue, and the figures are exact.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from pdata.vocabulary import OTLP_REQUESTS, WORKER_REQUESTS
from tests.support import otlp_raw as otlp
from tests.support import workload
from tests.support.children import eventually, wait_for
from tests.support.collector import CollectorProcess, process_alive, sum_of

WORKERS = {"CC_ANALYTICS_QUEUE_MODE": "wal", "CC_ANALYTICS_WORKERS": "2"}
DEADLINE_S = 60
ATTEMPTS = 6
# A fresh gRPC channel must open a connection of its own (gRPC otherwise shares one between channels).
_OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorProcess]:
    process = CollectorProcess(data_dir=tmp_path / "data", extra_env=WORKERS).start()
    try:
        yield process
    finally:
        process.kill()


EXPECTED = otlp.EXPECTED_WORKLOAD


def _eventually(read: Callable[[], Any], expected: Any) -> Any:
    """`read()` once it equals `expected` (the queue is drained within seconds), or its last value."""
    return eventually(read, expected, DEADLINE_S)


# --- the workload as raw requests -----------------------------------------------------------------------------


def _requests() -> list[tuple[str, dict[str, Any]]]:
    """The known workload in delta temporality: one metrics request per phase and session, then the events."""
    now = time.time_ns()
    requests: list[tuple[str, dict[str, Any]]] = []
    for phase in workload.PHASES:
        by_session: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
        for increment in phase:
            points = by_session[increment.attributes["session.id"]][increment.metric]
            points.append(otlp.point(increment.value, increment.attributes, now))
        for metrics in by_session.values():
            document = otlp.metrics_request(
                [
                    otlp.sum_metric(name, points, otlp.DELTA, workload.UNITS.get(name, ""))
                    for name, points in metrics.items()
                ]
            )
            requests.append(("metrics", document))
    requests.append(("logs", workload.events_json()))
    return requests


def _send_on_a_new_connection(collector: CollectorProcess, protocol: str, signal_name: str, body: bytes) -> str:
    """One attempt over a connection of its own; the answer's status ("ok", "retry" for 429/503/UNAVAILABLE)."""
    if protocol == "grpc":
        with grpc.insecure_channel(collector.grpc_target, options=_OWN_CONNECTION) as channel:
            call = channel.unary_unary(
                otlp.GRPC_METHODS[signal_name], request_serializer=None, response_deserializer=None
            )
            try:
                call(body, timeout=30)
            except grpc.RpcError as error:
                retryable = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)
                assert error.code() in retryable, error  # type: ignore[attr-defined]
                return "retry"
            return "ok"
    content_type = otlp.CONTENT_TYPES["json" if protocol == "http/json" else "protobuf"]
    try:
        response = httpx.post(  # httpx.post opens and closes a connection of its own
            f"{collector.otlp_http_url}/v1/{signal_name}", content=body, headers={"content-type": content_type}
        )
    except httpx.TransportError:
        return "retry"
    if response.status_code in (429, 503):
        return "retry"
    assert response.status_code == 200, (response.status_code, response.content)
    return "ok"


def _body(protocol: str, signal_name: str, document: dict[str, Any]) -> bytes:
    return otlp.to_json(document) if protocol == "http/json" else otlp.to_protobuf(document, signal_name)


def _deliver(collector: CollectorProcess, protocol: str, signal_name: str, body: bytes) -> None:
    """As an OTLP exporter does: the same bytes again after a retryable answer, until one is acknowledged."""
    for _ in range(100):
        if _send_on_a_new_connection(collector, protocol, signal_name, body) == "ok":
            return
        time.sleep(0.2)
    raise AssertionError("never acknowledged")


# --- tests ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("temporality", ["delta", "cumulative"])
@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf", "http/json"])
def test_the_workload_through_two_receiver_processes_gives_exact_figures(
    collector: CollectorProcess, protocol: str, temporality: str
) -> None:
    workload.send(collector.otlp_grpc_url, collector.otlp_http_url, protocol, temporality)
    assert _eventually(lambda: otlp.workload_figures(collector), EXPECTED) == EXPECTED
    assert len(collector.worker_pids()) == 2


def test_retries_on_new_connections_are_counted_once_whichever_process_takes_them(
    collector: CollectorProcess,
) -> None:
    requests = _requests()
    protocols = ("http/protobuf", "http/json", "grpc")
    for index, (signal_name, document) in enumerate(requests):
        protocol = protocols[index % len(protocols)]
        body = _body(protocol, signal_name, document)
        for _ in range(ATTEMPTS):
            _deliver(collector, protocol, signal_name, body)
    assert _eventually(lambda: otlp.workload_figures(collector), EXPECTED) == EXPECTED
    text = collector.metrics_text()
    sent = len(requests) * ATTEMPTS
    assert sum_of(text, OTLP_REQUESTS.sample, status="ok") == len(requests)
    assert sum_of(text, OTLP_REQUESTS.sample, status="duplicate") == sent - len(requests)
    # Each attempt came on a new connection, which the kernel gives to either process: with 42 connections, the
    # chance that one process took them all is 2 in 2^42. Each request's six attempts were answered by both
    # processes except with chance 1 in 32 per request, so retries crossed processes and still counted once.
    by_worker = [sum_of(text, WORKER_REQUESTS.sample, worker=str(index)) for index in (0, 1)]
    assert sum(by_worker) == sent
    assert min(by_worker) > 0, by_worker


def test_a_killed_worker_is_started_again_and_its_senders_retries_count_once(collector: CollectorProcess) -> None:
    # A retry is the same bytes over the same protocol, as an OTLP exporter sends it.
    protocols = ("http/protobuf", "grpc", "http/json")
    sends = [
        (protocols[index % 3], signal_name, _body(protocols[index % 3], signal_name, document))
        for index, (signal_name, document) in enumerate(_requests())
    ]
    half = len(sends) // 2
    for protocol, signal_name, body in sends[:half]:
        _deliver(collector, protocol, signal_name, body)
    killed = min(collector.worker_pids())
    os.kill(killed, signal.SIGKILL)
    # Meanwhile senders go on (the other worker takes every new connection), and every request is sent again on
    # new connections once the worker is back.
    for protocol, signal_name, body in sends[half:]:
        _deliver(collector, protocol, signal_name, body)
    wait_for(lambda: len(collector.worker_pids() - {killed}) == 2, "the killed worker was not started again")
    assert "worker.exited" in collector.log()
    for protocol, signal_name, body in sends:
        for _ in range(3):
            _deliver(collector, protocol, signal_name, body)
    assert _eventually(lambda: otlp.workload_figures(collector), EXPECTED) == EXPECTED
    assert len(collector.worker_pids()) == 2


def test_a_killed_collector_takes_its_workers_with_it_and_the_next_start_is_exact(
    collector: CollectorProcess,
) -> None:
    requests = _requests()
    for signal_name, document in requests:
        _deliver(collector, "http/protobuf", signal_name, _body("http/protobuf", signal_name, document))
    # Killed as soon as the last request is acknowledged: the queue may still be draining, an insert in progress.
    worker_pids = collector.worker_pids()
    collector.kill()
    wait_for(lambda: not any(process_alive(pid) for pid in worker_pids), "a worker outlived its collector")
    collector.start()  # the same ports: nothing holds them any more
    assert _eventually(lambda: otlp.workload_figures(collector), EXPECTED) == EXPECTED
    restarted = collector.worker_pids()
    assert collector.stop() == 0
    assert not any(process_alive(pid) for pid in restarted)


def _logged_by_process(collector: CollectorProcess, event: str, field: str) -> list[tuple[str, int]]:
    """(process, field) of each `event` line the collector's processes logged, sorted."""
    lines = [json.loads(line) for line in collector.log().splitlines() if line.startswith("{")]
    return sorted((line["process"], line[field]) for line in lines if line["event"] == event)


def test_the_writer_and_each_receiver_process_hand_their_freed_memory_back(collector: CollectorProcess) -> None:
    expected = [("worker 0", 50), ("worker 1", 50), ("writer", 50)]
    found = _eventually(lambda: _logged_by_process(collector, "memory.trim_started", "interval_ms"), expected)
    assert found == expected


def test_the_writer_and_each_receiver_process_settle_their_heap_once_started(collector: CollectorProcess) -> None:
    expected = [("worker 0", 100_000), ("worker 1", 100_000), ("writer", 100_000)]
    found = _eventually(lambda: _logged_by_process(collector, "memory.heap_settled", "young_threshold"), expected)
    assert found == expected
