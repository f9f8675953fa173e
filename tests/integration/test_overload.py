"""Overload (issue 5): past the in-flight budget the receivers refuse at once with a retry hint (HTTP 429 +
Retry-After + google.rpc.Status with RetryInfo; gRPC RESOURCE_EXHAUSTED + retry-after + RetryInfo), the
process stays up, and what was acknowledged, and only that, is in the API; the refused requests, retried
with the same bytes, then count once. Against the real collector with a tiny budget and queue."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2, status_pb2

from pdata.vocabulary import INFLIGHT_BYTES, INFLIGHT_LIMIT
from receiver.otlp.admission import Admission, OverBudget
from tests.support import otlp_raw as otlp
from tests.support.collector import CollectorProcess

ORG = "org-overload"
PER_PROTOCOL = 48
THREADS = 24


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    process = CollectorProcess(
        data_dir=tmp_path_factory.mktemp("overload") / "data",
        # About one request's body at a time, and a write queue of a few points: a concurrent flood overflows.
        # One process answering after the store (queue.mode=memory), so that its write queue is what a flood
        # overflows (the durable queue's own bound is tests/integration/test_durable_queue.py's).
        extra_env={
            "CC_ANALYTICS_LIMITS_MAX_INFLIGHT_BYTES": "1024",
            "CC_ANALYTICS_LIMITS_MAX_QUEUED_ITEMS": "4",
            "CC_ANALYTICS_QUEUE_MODE": "memory",
        },
    ).start()
    yield process
    process.kill()


@dataclass
class Sent:
    protocol: str
    lines: int
    body: bytes
    acknowledged: bool = False
    retry_after: str | None = None  # the refusal's Retry-After / retry-after
    retry_delay_s: int | None = None  # the refusal's google.rpc.RetryInfo
    other: str = ""  # any answer that is neither success nor a refusal with a retry hint


def retry_info(status_bytes: bytes, code: int) -> int | None:
    status = status_pb2.Status.FromString(status_bytes)
    assert status.code == code and status.message, status
    for detail in status.details:
        info = error_details_pb2.RetryInfo()
        if detail.Unpack(info):
            return info.retry_delay.seconds
    return None


def deliver(collector: CollectorProcess, sent: Sent, channel: grpc.Channel | None = None) -> None:
    """Send `sent.body` once and record the answer."""
    sent.retry_after = sent.retry_delay_s = None
    if sent.protocol == "grpc":
        call = channel.unary_unary(otlp.GRPC_METHODS["metrics"], request_serializer=None, response_deserializer=None)
        try:
            call(sent.body, timeout=60)
            sent.acknowledged = True
        except grpc.RpcError as exc:
            trailers = dict(exc.trailing_metadata() or ())
            if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                sent.other = f"{exc.code().name}: {exc.details()}"
                return
            sent.retry_after = trailers.get("retry-after")
            if "grpc-status-details-bin" in trailers:
                sent.retry_delay_s = retry_info(trailers["grpc-status-details-bin"], 8)
        return
    response = httpx.post(f"{collector.otlp_http_url}/v1/metrics", content=sent.body,
                          headers={"content-type": "application/x-protobuf"}, timeout=60)  # fmt: skip
    if response.status_code == 200:
        sent.acknowledged = True
    elif response.status_code == 429:
        sent.retry_after = response.headers.get("retry-after")
        sent.retry_delay_s = retry_info(response.content, 8)
    else:
        sent.other = f"{response.status_code}: {response.content[:200]!r}"


def expected(requests: list[Sent]) -> dict:
    counted = [sent for sent in requests if sent.acknowledged]
    if not counted:
        return dict(otlp.ZERO)
    return otlp.edit_figures(sum(sent.lines for sent in counted), accepts=len(counted), sessions=len(counted))


def test_a_flood_is_refused_with_a_retry_hint_and_exactly_the_acknowledged_is_counted(
    collector: CollectorProcess,
) -> None:
    base = otlp.now_ns()
    requests = [
        Sent(protocol, lines, otlp.to_protobuf(otlp.edit_request(ORG, lines=lines, session=f"s{lines}",
                                                                 time_ns=base + lines)))
        for lines in range(1, 2 * PER_PROTOCOL + 1)
        for protocol in ["http/protobuf" if lines % 2 else "grpc"]
    ]  # fmt: skip
    channels = threading.local()

    def one(sent: Sent) -> None:
        if sent.protocol == "grpc" and not hasattr(channels, "channel"):
            channels.channel = grpc.insecure_channel(collector.grpc_target)
        deliver(collector, sent, getattr(channels, "channel", None))

    start = threading.Barrier(THREADS)

    def worker(index: int) -> None:
        start.wait()  # every thread starts sending at once
        for sent in requests[index::THREADS]:
            one(sent)

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(worker, range(THREADS)))

    assert [sent.other for sent in requests if sent.other] == []
    refused = [sent for sent in requests if not sent.acknowledged]
    for protocol in ("http/protobuf", "grpc"):
        mine = [sent for sent in requests if sent.protocol == protocol]
        assert any(not sent.acknowledged for sent in mine), f"no {protocol} request was refused"
    # Every refusal tells when to retry, in the header / trailer and as RetryInfo.
    assert all(sent.retry_after == "1" and sent.retry_delay_s == 1 for sent in refused), refused[:3]

    # The process is up, and the API holds exactly what was acknowledged (acknowledged = committed).
    assert collector.process.poll() is None
    assert httpx.get(f"{collector.api_url}/healthz", timeout=5).status_code == 200
    assert otlp.figures(collector, ORG) == expected(requests)

    # The refused requests were never acknowledged: retried with the same bytes they count, once.
    with grpc.insecure_channel(collector.grpc_target) as channel:
        for sent in refused:
            for _ in range(20):
                deliver(collector, sent, channel)
                if sent.acknowledged:
                    break
                time.sleep(0.05)
            assert sent.acknowledged, sent
    assert otlp.figures(collector, ORG) == otlp.edit_figures(
        sum(range(1, 2 * PER_PROTOCOL + 1)), accepts=2 * PER_PROTOCOL, sessions=2 * PER_PROTOCOL
    )
    assert collector.process.poll() is None


def test_a_json_refusal_carries_retry_info_in_json(collector: CollectorProcess) -> None:
    """Hold the budget with a slow request's body, then send an OTLP/JSON request: it is refused."""
    body = otlp.to_json(otlp.edit_request("org-overload-json", lines=3))
    with socket.create_connection(("127.0.0.1", collector.http_port)) as slow:
        # Declares 1000 bytes and sends 900: they hold 900 of the 1024 bytes until it completes (what is
        # only declared holds nothing).
        slow.sendall(b"POST /v1/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\n"
                     b"Content-Length: 1000\r\n\r\n" + b"\x00" * 900)  # fmt: skip
        time.sleep(0.3)
        response = httpx.post(f"{collector.otlp_http_url}/v1/metrics", content=body,
                              headers={"content-type": "application/json"}, timeout=30)  # fmt: skip
        held = collector.metric_sum(INFLIGHT_BYTES.name), collector.metric_sum(INFLIGHT_LIMIT.name)
        slow.sendall(b"\x00" * 100)  # the rest of an invalid body: 400, nothing kept
        assert b" 400 " in slow.recv(65536).split(b"\r\n", 1)[0]
    assert response.status_code == 429, response.content
    assert held == (900, 1024)  # what /metrics showed meanwhile: the slow body's bytes of the budget
    assert response.headers["retry-after"] == "1"
    document = response.json()
    assert document["code"] == 8 and "in flight" in document["message"]
    assert document["details"] == [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}]
    # Nothing of the refused request was kept; sent again, it is accepted and counted.
    assert otlp.figures(collector, "org-overload-json") == otlp.ZERO
    otlp.send(collector, "http/json", json.loads(body))
    assert otlp.figures(collector, "org-overload-json") == otlp.edit_figures(3)


# --- the budget itself ------------------------------------------------------------------------------------


def test_budget_admits_until_full_then_refuses_and_frees_on_release() -> None:
    admission = Admission(100)
    first = admission.admit(60)
    with pytest.raises(OverBudget, match="retry after 1 s"):
        admission.admit(50)
    second = admission.admit(40)
    assert admission.inflight_bytes == 100
    with pytest.raises(OverBudget):
        second.resize(41)  # growing past the budget is refused too; the reservation stays as it was
    assert second.size == 40
    first.release()
    first.release()  # idempotent
    second.release()
    assert admission.inflight_bytes == 0 and admission.inflight_requests == 0
    big = admission.admit(10_000)  # larger than the whole budget: taken when nothing else is in flight
    with pytest.raises(OverBudget):
        admission.admit(1)
    big.release()


def test_a_ticket_is_freed_by_its_last_holder() -> None:
    admission = Admission(100)
    ticket = admission.admit(80)
    future: Future = Future()
    ticket.release_when_done(future)
    ticket.release()  # the handler is done (or was cancelled), the writer still holds the batch
    assert admission.inflight_bytes == 80
    future.set_result(None)
    assert admission.inflight_bytes == 0
