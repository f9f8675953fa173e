"""The working memory of one request is bounded: a request of more items than `limits.max_request_items` is
refused as too large, for good, before its points are built; and a request is charged its parsed form and then
its items' working memory on the in-flight budget, so one whose items do not fit beside what is in flight is
refused with a retry hint, and admitted once the budget is free; a request that declares more than the budget
has left is refused on arrival and takes no room from one that fits. Against the real collector (two receiver
processes, one budget): nothing refused is counted, what is accepted counts exactly."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2, status_pb2

from pdata.vocabulary import INFLIGHT_BYTES, INFLIGHT_LIMIT, OTLP_REQUESTS
from receiver.otlp.admission import ITEM_BYTES, parsing_bytes
from tests.support import otlp_raw as otlp
from tests.support.collector import CollectorProcess
from tests.support.running import running

ITEMS = 50  # limits.max_request_items of the module's collector
BUDGET = 512 * 1024  # its limits.max_inflight_bytes
PROTOBUF = otlp.CONTENT_TYPES["protobuf"]
JSON = otlp.CONTENT_TYPES["json"]


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    # Two receiver processes: the in-flight budget is the collector's, so a request held on one connection
    # shares it with the next connections' whichever process the kernel gives them to.
    env = {
        "CC_ANALYTICS_LIMITS_MAX_REQUEST_ITEMS": str(ITEMS),
        "CC_ANALYTICS_LIMITS_MAX_INFLIGHT_BYTES": str(BUDGET),
        "CC_ANALYTICS_QUEUE_MODE": "wal",
        "CC_ANALYTICS_WORKERS": "2",
    }
    yield from running(CollectorProcess(data_dir=tmp_path_factory.mktemp("bounds") / "data", extra_env=env))


def _lines(org: str, count: int, name: str) -> dict[str, Any]:
    """`count` delta points of one added line each, of member `name` in session `name`."""
    base = otlp.now_ns()
    ident = otlp.who(org, name, session=name)
    points = [otlp.point(1, {**ident, "type": "added", "n": str(index)}, base + index) for index in range(count)]
    return otlp.metrics_request([otlp.sum_metric(otlp.LINES, points)])


def _too_large_counts(collector: CollectorProcess) -> dict[tuple[str, str], float]:
    """cc_analytics_otlp_requests_total{status="too_large"} by (protocol, signal)."""
    return {
        (sample.labels["protocol"], sample.labels["signal"]): sample.value
        for sample in collector.metric_samples(OTLP_REQUESTS.sample, status="too_large")
    }


def _status_message(response: httpx.Response) -> str:
    if response.headers["content-type"].startswith("application/json"):
        document = response.json()
        assert document["code"] == 8 and "details" not in document, document
        return document["message"]
    status = status_pb2.Status.FromString(response.content)
    assert status.code == 8 and not status.details, status
    return status.message


def _over_the_limit(items: int, noun: str) -> str:
    return (
        f"request holds {items} {noun}, over the limit of {ITEMS} (limits.max_request_items): send smaller batches "
        f"(behind an OpenTelemetry Collector, set its batch processor's send_batch_max_size to {ITEMS} or less)"
    )


def test_a_request_of_more_items_than_the_limit_is_refused_for_good_and_nothing_of_it_counts(
    collector: CollectorProcess,
) -> None:
    org = "org-bounds-items"
    counted_before = _too_large_counts(collector)
    otlp.send(collector, "http/protobuf", otlp.edit_request(org, lines=5, session="normal"))
    over = _lines(org, ITEMS + 1, "over")
    for content_type, body in ((PROTOBUF, otlp.to_protobuf(over)), (JSON, otlp.to_json(over))):
        response = otlp.post(collector, "metrics", body, content_type)
        assert response.status_code == 413, (content_type, response.status_code, response.content[:300])
        assert "retry-after" not in response.headers  # permanent: OTLP senders drop it
        assert _status_message(response) == _over_the_limit(ITEMS + 1, "data points")
    with pytest.raises(grpc.RpcError) as caught:
        otlp.grpc_export(collector, "metrics", otlp.to_protobuf(over))
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert caught.value.details() == _over_the_limit(ITEMS + 1, "data points")
    # RESOURCE_EXHAUSTED without RetryInfo is not retryable (OTLP spec, OTLP/gRPC Failures).
    assert not {key for key, _ in caught.value.trailing_metadata() or ()} & {"retry-after", "grpc-status-details-bin"}
    records = otlp.to_protobuf(otlp.logs_request(org, ["user_prompt"] * (ITEMS + 1)), "logs")
    response = otlp.post(collector, "logs", records)
    assert response.status_code == 413 and _status_message(response) == _over_the_limit(ITEMS + 1, "log records")

    # A request of exactly the limit is taken; beside it, the normal request counts exactly.
    otlp.send(collector, "grpc", _lines(org, ITEMS, "at-limit"))
    expected = {**otlp.ZERO, "accepted_lines": 5 + ITEMS, "accepts": 1, "active_users": 2, "sessions": 2}
    assert otlp.figures(collector, org) == expected
    counted = _too_large_counts(collector)
    added = {key: counted.get(key, 0) - counted_before.get(key, 0) for key in counted}
    assert {key: value for key, value in added.items() if value} == {
        ("http", "metrics"): 2,
        ("grpc", "metrics"): 1,
        ("http", "logs"): 1,
    }
    assert collector.process.poll() is None


def _retry_delay(status: status_pb2.Status) -> int | None:
    for detail in status.details:
        info = error_details_pb2.RetryInfo()
        if detail.Unpack(info):
            return info.retry_delay.seconds
    return None


class StalledBody:
    """An OTLP/HTTP request whose body stops `missing` bytes short: what arrived holds its place in the budget
    until the rest comes (a body of zeros: answered 400, nothing kept)."""

    def __init__(self, collector: CollectorProcess, held: int, missing: int = 100) -> None:
        self.socket = socket.create_connection(("127.0.0.1", collector.http_port))
        self.missing = missing
        self.socket.sendall(
            b"POST /v1/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\n"
            + f"Content-Length: {held + missing}\r\n\r\n".encode()
            + bytes(held)
        )

    def finish(self) -> bytes:
        """Send the rest; the status line of the answer."""
        self.socket.sendall(bytes(self.missing))
        status_line = self.socket.recv(65536).split(b"\r\n", 1)[0]
        self.socket.close()
        return status_line


def _wait_until_held(collector: CollectorProcess, held: int) -> None:
    """Until a body one byte larger than the budget's free part is refused 429 as it arrives (else it is 400 for
    its Content-Encoding, before anything is parsed): the stalled body's bytes are then all counted in flight."""
    probe = bytes(BUDGET - held + 1)
    for _ in range(200):
        status = otlp.post(collector, "metrics", probe, PROTOBUF, {"content-encoding": "br"}).status_code
        if status == 429:
            return
        assert status == 400, status
    raise AssertionError("the stalled body's bytes were never counted in flight")


def _inflight(collector: CollectorProcess) -> tuple[float, float]:
    """(cc_analytics_inflight_bytes, cc_analytics_inflight_limit_bytes) now."""
    return collector.metric_sum(INFLIGHT_BYTES.name), collector.metric_sum(INFLIGHT_LIMIT.name)


def _send(
    collector: CollectorProcess, protocol: str, document: dict[str, Any]
) -> tuple[str, str | None, int | None, str]:
    """(outcome, Retry-After / retry-after, RetryInfo delay, reason) of one export of `document` over `protocol`."""
    if protocol == "grpc":
        try:
            otlp.grpc_export(collector, "metrics", otlp.to_protobuf(document))
        except grpc.RpcError as exc:
            trailers = dict(exc.trailing_metadata() or ())
            status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
            return exc.code().name, trailers.get("retry-after"), _retry_delay(status), exc.details() or ""
        return "OK", None, None, ""
    content_type, body = (JSON, otlp.to_json(document)) if protocol == "http/json" else (PROTOBUF,
                                                                                        otlp.to_protobuf(document))  # fmt: skip
    response = otlp.post(collector, "metrics", body, content_type)
    if response.status_code != 429:
        return str(response.status_code), None, None, ""
    if content_type == JSON:
        answer = response.json()
        return (
            "429",
            response.headers.get("retry-after"),
            int(answer["details"][0]["retryDelay"][:-1]),
            answer["message"],
        )
    status = status_pb2.Status.FromString(response.content)
    return "429", response.headers.get("retry-after"), _retry_delay(status), status.message


def _held_beside(body: bytes, encoding: str) -> tuple[int, int]:
    """What a stalled body must hold for `body` to fit beside it as it arrives and is parsed, but not once its
    items are counted too; and what the request asks for then."""
    parsing = parsing_bytes(encoding, len(body))
    items = ITEMS * ITEM_BYTES["metrics"]
    held = BUDGET - parsing - items // 2
    assert 0 < held and held + parsing <= BUDGET < held + parsing + items, (encoding, len(body), held)
    return held, parsing + items


def test_a_request_whose_items_do_not_fit_beside_another_in_flight_is_refused_then_admitted(
    collector: CollectorProcess,
) -> None:
    org = "org-bounds-budget"
    requests = {
        protocol: _lines(org, ITEMS, protocol.replace("/", "-")) for protocol in ("http/protobuf", "http/json", "grpc")
    }
    refused: dict[str, list] = {}
    small_outcome = None
    for protocol, document in requests.items():
        encoding = "json" if protocol == "http/json" else "protobuf"
        held, asked = _held_beside(
            otlp.to_json(document) if encoding == "json" else otlp.to_protobuf(document), encoding
        )
        stalled = StalledBody(collector, held)
        _wait_until_held(collector, held)
        # Held by one receiver process, shown by the collector: the in-flight bytes of every process together.
        assert _inflight(collector) == (held, BUDGET)
        *refused[protocol], reason = _send(collector, protocol, document)
        # Refused once its items were counted: what it asked for is its parsed body and its items.
        assert reason.startswith("collector is busy") and f"(this request: {asked} bytes)" in reason, reason
        if small_outcome is None:  # a Claude Code-sized export still fits beside
            small_outcome = _send(collector, "http/protobuf", otlp.edit_request(org, lines=7, session="small"))
        assert stalled.finish().startswith(b"HTTP/1.1 400 ")

    assert refused == {
        "http/protobuf": ["429", "1", 1],
        "http/json": ["429", "1", 1],
        "grpc": ["RESOURCE_EXHAUSTED", "1", 1],
    }
    assert small_outcome == ("200", None, None, "")
    assert otlp.figures(collector, org) == otlp.edit_figures(7)
    # The budget is free again: the same requests are taken, and count once each.
    assert {protocol: _send(collector, protocol, document)[0] for protocol, document in requests.items()} == {
        "http/protobuf": "200",
        "http/json": "200",
        "grpc": "OK",
    }
    assert otlp.figures(collector, org) == {**otlp.edit_figures(7 + 3 * ITEMS), "active_users": 4, "sessions": 4}
    assert _inflight(collector) == (0, BUDGET)


def test_a_request_declaring_more_than_the_budget_has_left_takes_no_room_from_one_that_fits(
    collector: CollectorProcess,
) -> None:
    org = "org-bounds-declared"
    fits = _lines(org, ITEMS, "fits")
    body = otlp.to_protobuf(fits)
    asked = parsing_bytes("protobuf", len(body)) + ITEMS * ITEM_BYTES["metrics"]
    held = BUDGET - 2 * asked
    stalled = StalledBody(collector, held)
    _wait_until_held(collector, held)
    # A request whose Content-Length does not fit beside it sends what would fit, then stalls: refused on
    # arrival for what it declares, so its first bytes hold nothing (counted as they came, they would leave
    # less room than the next request asks for).
    doomed = StalledBody(collector, asked + 1, missing=BUDGET)
    time.sleep(0.5)
    assert _send(collector, "http/protobuf", fits) == ("200", None, None, "")
    assert doomed.finish().startswith(b"HTTP/1.1 429 ")
    assert stalled.finish().startswith(b"HTTP/1.1 400 ")
    assert otlp.figures(collector, org)["accepted_lines"] == ITEMS
