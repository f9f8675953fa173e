"""Retries and restarts (issue 2): a retried request counts once, and a kill -9 after acknowledgement or with
requests in flight loses and adds nothing. All against the real collector process. Cumulative series across
restarts: test_cumulative_restarts.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import otlp_raw as otlp
from tests.support.collector import CollectorProcess
from tests.support.running import restart, running, start_on

ORG = "org-retry"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    """One collector for the tests that need no restart; each of them uses its own organization."""
    yield from running(CollectorProcess(data_dir=tmp_path_factory.mktemp("retries") / "data"))


# --- the same request twice -----------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json", "grpc"])
def test_same_request_twice_counts_once(shared: CollectorProcess, org: str, protocol: str) -> None:
    collector = shared
    request = otlp.edit_request(org, lines=7, cost=0.5)
    otlp.send(collector, protocol, request)
    assert otlp.figures(collector, org) == otlp.edit_figures(7, 0.5)

    otlp.send(collector, protocol, request)  # a retry after a lost response: acknowledged, not counted
    assert otlp.figures(collector, org) == otlp.edit_figures(7, 0.5)

    # The same content in a new export (a later timestamp, so other bytes) is new data and counts.
    otlp.send(collector, protocol, otlp.edit_request(org, lines=7, cost=0.5))
    assert otlp.figures(collector, org) == otlp.edit_figures(14, 1.0, accepts=2)


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_retry_with_other_content_encoding_counts_once(shared: CollectorProcess, org: str, encoding: str) -> None:
    """The digest is over the inflated body: identity, gzip and another gzip level are one request."""
    collector = shared
    document = otlp.edit_request(org, lines=3, cost=0.25)
    body = otlp.to_json(document) if encoding == "json" else otlp.to_protobuf(document)
    content_type = otlp.CONTENT_TYPES[encoding]

    first = otlp.post(collector, "metrics", body, content_type)
    assert first.status_code == 200, first.text
    compressed = [otlp.gzipped(body, 9), otlp.gzipped(body, 1)]
    assert compressed[0] != body
    for variant in compressed:
        response = otlp.post(collector, "metrics", variant, content_type, {"content-encoding": "gzip"})
        assert response.status_code == 200, response.text
    assert otlp.figures(collector, org) == otlp.edit_figures(3, 0.25)

    # And the other way round: gzip first, identity as the retry.
    other = otlp.edit_request(org, lines=2, cost=0.25, name="second")
    body = otlp.to_json(other) if encoding == "json" else otlp.to_protobuf(other)
    for variant, headers in ((otlp.gzipped(body), {"content-encoding": "gzip"}), (body, {})):
        response = otlp.post(collector, "metrics", variant, content_type, headers)
        assert response.status_code == 200, response.text
    assert otlp.figures(collector, org) == otlp.edit_figures(5, 0.5, accepts=2, users=2, sessions=1)


def test_grpc_and_http_protobuf_of_the_same_bytes_count_once(shared: CollectorProcess, org: str) -> None:
    collector = shared
    body = otlp.to_protobuf(otlp.edit_request(org, lines=4))
    assert otlp.post(collector, "metrics", body).status_code == 200
    otlp.grpc_export(collector, "metrics", body)
    assert otlp.figures(collector, org) == otlp.edit_figures(4)


def test_grpc_retry_with_message_compression_counts_once(shared: CollectorProcess, org: str) -> None:
    collector = shared
    body = otlp.to_protobuf(otlp.edit_request(org, lines=6, cost=0.25))
    otlp.grpc_export(collector, "metrics", body, gzip_compressed=True)
    otlp.grpc_export(collector, "metrics", body)
    otlp.grpc_export(collector, "metrics", body, gzip_compressed=True)
    assert otlp.figures(collector, org) == otlp.edit_figures(6, 0.25)


def test_a_retry_after_the_dedup_window_counts_again_before_and_after_a_restart(started, data_dir: Path) -> None:
    """dedup.window_seconds bounds what is remembered, in a running process as after a restart."""
    # Long enough that two sends in a row on a busy machine (a collector just restarted) fall inside it.
    window_s = 5
    collector = start_on(started, data_dir, CC_ANALYTICS_DEDUP_WINDOW_SECONDS=str(window_s))
    request = otlp.edit_request(ORG, lines=2)

    def past_the_window_of(acknowledged: float) -> None:
        time.sleep(max(0.0, acknowledged + window_s + 0.25 - time.monotonic()))

    otlp.send(collector, "http/json", request)
    acknowledged = time.monotonic()
    otlp.send(collector, "http/json", request)
    assert otlp.figures(collector, ORG)["accepted_lines"] == 2

    past_the_window_of(acknowledged)
    otlp.send(collector, "http/json", request)  # forgotten: counted as new, and remembered again
    acknowledged = time.monotonic()
    otlp.send(collector, "http/json", request)
    assert otlp.figures(collector, ORG)["accepted_lines"] == 4

    started[-1].kill()
    past_the_window_of(acknowledged)
    collector = start_on(started, data_dir, CC_ANALYTICS_DEDUP_WINDOW_SECONDS=str(window_s))
    otlp.send(collector, "http/json", request)
    otlp.send(collector, "http/json", request)
    assert otlp.figures(collector, ORG)["accepted_lines"] == 6


# --- kill -9 after acknowledgements -----------------------------------------------------------------------------


def _acknowledged_workload() -> list[tuple[str, str, dict]]:
    """(protocol, signal, document): deltas over each protocol, a cumulative series, and events."""
    base = otlp.now_ns()
    start = base - 60_000_000_000
    return [
        ("http/protobuf", "metrics", otlp.edit_request(ORG, lines=10, cost=0.25, name="alice", session="a1")),
        ("http/json", "metrics", otlp.edit_request(ORG, lines=5, cost=0.125, name="alice", session="a1",
                                                   time_ns=base + 1)),
        ("grpc", "metrics", otlp.edit_request(ORG, lines=0, cost=0.0, name="bob", session="b1", decision="reject",
                                              tool="Edit")),
        ("http/json", "metrics", otlp.cumulative_lines_request(ORG, 6, base + 2, start)),
        ("http/protobuf", "metrics", otlp.cumulative_lines_request(ORG, 9, base + 3, start)),
        ("http/json", "logs", otlp.logs_request(ORG, ["user_prompt", "api_request"], name="carol", session="c1")),
        ("grpc", "logs", otlp.logs_request(ORG, ["tool_decision"], name="dave", session="d1")),
    ]  # fmt: skip


# alice 10 + 5 (+ 9 in the cumulative series of who(ORG) = "dev"), bob's rejected Edit, carol and dave by events.
_WORKLOAD_FIGURES = {
    "accepted_lines": 24,
    "removed_lines": 0,
    "accepts": 2,
    "rejects": 1,
    "active_users": 5,  # alice, bob, dev, carol, dave
    "sessions": 5,  # a1, b1, s1, c1, d1
    "spend_usd": 0.375,
}


def test_kill9_after_acknowledgement_loses_nothing_and_adds_nothing(started, data_dir: Path) -> None:
    collector = start_on(started, data_dir)
    workload = _acknowledged_workload()
    for protocol, signal, document in workload:
        otlp.send(collector, protocol, document, signal)
    before = otlp.figures(collector, ORG)
    assert before == _WORKLOAD_FIGURES
    team_before = collector.team(otlp.day_range()[1][:7], org=ORG)

    collector = restart(started, data_dir, "sigkill")
    assert otlp.figures(collector, ORG) == before
    assert collector.team(otlp.day_range()[1][:7], org=ORG) == team_before

    # Every acknowledged request delivered again (the client never saw the answer): still counted once.
    for protocol, signal, document in workload:
        otlp.send(collector, protocol, document, signal)
    assert otlp.figures(collector, ORG) == before

    # A second kill -9, and the retries once more.
    collector = restart(started, data_dir, "sigkill")
    for protocol, signal, document in reversed(workload):
        otlp.send(collector, protocol, document, signal)
    assert otlp.figures(collector, ORG) == before

    # New data after all that still counts.
    otlp.send(collector, "grpc", otlp.edit_request(ORG, lines=1, cost=0.125, name="alice", session="a1"))
    assert otlp.figures(collector, ORG) == {
        **before, "accepted_lines": 25, "accepts": 3, "spend_usd": 0.5}  # fmt: skip


def test_kill9_while_requests_are_in_flight_then_client_retries_count_each_once(started, data_dir: Path) -> None:
    """Four senders, 80 distinct requests of 1 line each; kill -9 mid-stream. Every acknowledged request
    survives; after the restart the clients retry everything and each request is counted exactly once."""
    collector = start_on(started, data_dir)
    protocols = ["http/protobuf", "http/json", "grpc", "http/json"]
    requests = [
        (protocols[index % 4], otlp.edit_request(ORG, lines=1, name=f"dev{index % 4}", session=f"s{index % 4}",
                                                 time_ns=otlp.now_ns() + index))
        for index in range(80)
    ]  # fmt: skip
    acknowledged: set[int] = set()
    lock = threading.Lock()

    def sender(worker: int) -> None:
        for index in range(worker, len(requests), 4):
            protocol, document = requests[index]
            try:
                otlp.send(collector, protocol, document)
            except Exception:  # the collector died under this request: no answer, the client will retry
                return
            with lock:
                acknowledged.add(index)

    threads = [threading.Thread(target=sender, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 20 and time.monotonic() < deadline and any(t.is_alive() for t in threads):
        time.sleep(0.005)
    collector.kill()
    for thread in threads:
        thread.join(60)
    assert 20 <= len(acknowledged), len(acknowledged)

    collector = start_on(started, data_dir)
    survived = otlp.figures(collector, ORG)
    assert len(acknowledged) <= survived["accepted_lines"] <= len(requests)  # acknowledged ⇒ kept
    assert survived["accepted_lines"] == survived["accepts"]
    for protocol, document in requests:  # every client retries what it has no answer for, or everything
        otlp.send(collector, protocol, document)
    assert otlp.figures(collector, ORG) == otlp.edit_figures(80, accepts=80, users=4, sessions=4)
