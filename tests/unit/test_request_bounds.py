"""A request is charged its working memory as it is decoded: its body's parsed form before parsing, then its
items, counted once parsed on every decoding path and before any is built (past limits.max_request_items the
request is too large), then body + items × ITEM_BYTES until its answer; past the in-flight budget it is refused
with a retry hint."""

from __future__ import annotations

import gc
import json
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from pdata import Sender
from receiver.otlp.admission import ITEM_BYTES, Admission, OverBudget, parsing_bytes, working_bytes
from receiver.otlp.decode import DecodeFailure
from receiver.otlp.decoding.items import document_items, message_items
from receiver.otlp.ingest import RequestBounds, TooLarge, decode
from tests.support import otlp_raw as otlp

TESTDATA = Path(__file__).resolve().parents[2] / "receiver" / "otlp" / "testdata"


def _every_kind_of_metric() -> dict[str, Any]:
    """2 sum, 1 gauge, 3 histogram, 1 exponential histogram and 2 summary points, and a metric without data."""
    point = {"timeUnixNano": "1", "asDouble": 1.0}
    return {"resourceMetrics": [
        {"scopeMetrics": [
            {"metrics": [{"name": "a", "sum": {"aggregationTemporality": 1, "dataPoints": [point, point]}},
                         {"name": "b", "gauge": {"dataPoints": [point]}},
                         {"name": "none"}]},
            {"metrics": [{"name": "c", "histogram": {"aggregationTemporality": 1,
                                                     "dataPoints": [{"count": "1"}] * 3}}]},
        ]},
        {"scopeMetrics": [{"metrics": [
            {"name": "d", "exponentialHistogram": {"aggregationTemporality": 1, "dataPoints": [{"count": "1"}]}},
            {"name": "e", "summary": {"dataPoints": [{"count": "1"}, {"count": "2"}]}},
        ]}]},
    ]}  # fmt: skip


def _spans(count: int) -> dict[str, Any]:
    span = {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": "s"}
    return {"resourceSpans": [{"scopeSpans": [{"spans": [span] * count}, {"spans": [span]}]}]}


def test_items_are_counted_on_the_message_and_on_the_json_document_alike() -> None:
    metrics = _every_kind_of_metric()
    message = json_format.ParseDict(metrics, ExportMetricsServiceRequest())
    assert message_items(message) == document_items(metrics, "ExportMetricsServiceRequest") == 9
    logs = otlp.logs_request("org", ["a", "b", "c"])
    message = json_format.ParseDict(logs, ExportLogsServiceRequest())
    assert message_items(message) == document_items(logs, "ExportLogsServiceRequest") == 3
    spans = _spans(4)
    assert document_items(spans, "ExportTraceServiceRequest") == 5
    # Proto field names, which ParseDict also takes, count the same.
    proto_names = {"resource_metrics": [{"scope_metrics": [{"metrics": [
        {"name": "a", "sum": {"data_points": [{}, {}]}}, {"name": "d", "exponential_histogram": {"data_points": [{}]}},
    ]}]}]}  # fmt: skip
    assert document_items(proto_names, "ExportMetricsServiceRequest") == 3


@pytest.mark.parametrize(
    "document",
    [{}, {"resourceMetrics": None}, {"resourceMetrics": {"a": 1}}, {"resourceMetrics": [1, "x", None]},
     {"resourceMetrics": [{"scopeMetrics": [{"metrics": [1, {"sum": []}, {"gauge": {"dataPoints": 7}}]}]}]}],
)  # fmt: skip
def test_a_document_of_the_wrong_shape_counts_what_it_holds_and_never_fails(document: dict) -> None:
    assert document_items(document, "ExportMetricsServiceRequest") == 0


def _bodies(document: dict[str, Any], signal: str = "metrics") -> dict[str, tuple[bytes, str]]:
    """The request on each decoding path: protobuf, the direct JSON path, and JSON the direct path declines
    (a proto field name, which only ParseDict takes)."""
    declined = json.loads(json.dumps(document))
    if signal == "metrics":
        data = declined["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["sum"]
        data["data_points"] = data.pop("dataPoints")
    else:
        scope = declined["resourceLogs"][0]["scopeLogs"][0]
        scope["log_records"] = scope.pop("logRecords")
    return {
        "protobuf": (otlp.to_protobuf(document, signal), "protobuf"),
        "json": (otlp.to_json(document), "json"),
        "json-parsedict": (otlp.to_json(declined), "json"),
    }


@dataclass(slots=True)
class _Recording(RequestBounds):
    """RequestBounds that also records each count it is given."""

    seen: list[int] = field(default_factory=list)

    def check(self, items: int) -> None:
        self.seen.append(items)
        RequestBounds.check(self, items)


@pytest.mark.parametrize("path", ["protobuf", "json", "json-parsedict"])
def test_more_items_than_the_limit_is_too_large_before_any_is_built(path: str) -> None:
    admission = Admission(10**9)
    body, encoding = _bodies(otlp.edit_request("org", lines=5, cost=0.5))[path]  # 4 data points
    with admission.admit(len(body)) as ticket:
        bounds = _Recording("metrics", encoding, 3, ticket, len(body))
        with pytest.raises(TooLarge) as caught:
            decode("metrics", body, encoding, Sender(), bounds)
        assert bounds.seen == [4]  # counted once, refused there: decoding went no further
        assert ticket.size == parsing_bytes(encoding, len(body))  # nothing charged for items never built
    assert str(caught.value) == (
        "request holds 4 data points, over the limit of 3 (limits.max_request_items): send smaller batches "
        "(behind an OpenTelemetry Collector, set its batch processor's send_batch_max_size to 3 or less)"
    )
    with admission.admit(len(body)) as ticket:
        bounds = RequestBounds("metrics", encoding, 4, ticket, len(body))
        decoded = decode("metrics", body, encoding, Sender(), bounds)
        assert decoded.batch is not None and decoded.batch.size == 4
        assert ticket.size == len(body) + 4 * ITEM_BYTES["metrics"] == working_bytes("metrics", len(body), 4)


@pytest.mark.parametrize("path", ["protobuf", "json", "json-parsedict"])
def test_log_records_are_charged_their_working_memory(path: str) -> None:
    admission = Admission(10**9)
    body, encoding = _bodies(otlp.logs_request("org", ["a", "b", "c"]), "logs")[path]
    with admission.admit(len(body)) as ticket:
        bounds = RequestBounds("logs", encoding, 3, ticket, len(body))
        decoded = decode("logs", body, encoding, Sender(), bounds)
        assert decoded.batch is not None and decoded.batch.size == 3
        assert ticket.size == admission.inflight_bytes == len(body) + 3 * 3584
    with admission.admit(len(body)) as ticket, pytest.raises(TooLarge, match="holds 3 log records"):
        bounds = RequestBounds("logs", encoding, 2, ticket, len(body))
        decode("logs", body, encoding, Sender(), bounds)


def test_spans_count_against_the_limit_and_cost_nothing_more() -> None:
    admission = Admission(10**9)
    body = json.dumps(_spans(2)).encode()
    protobuf = json_format.ParseDict(_spans(2), ExportTraceServiceRequest()).SerializeToString()
    for payload, encoding in ((body, "json"), (protobuf, "protobuf")):
        with admission.admit(len(payload)) as ticket:
            bounds = RequestBounds("traces", encoding, 3, ticket, len(payload))
            decoded = decode("traces", payload, encoding, Sender(), bounds)
            assert decoded.dropped_spans == 3 and ticket.size == len(payload)
        with (
            admission.admit(len(payload)) as ticket,
            pytest.raises(TooLarge, match="holds 3 spans, over the limit of 2"),
        ):
            bounds = RequestBounds("traces", encoding, 2, ticket, len(payload))
            decode("traces", payload, encoding, Sender(), bounds)


def test_items_that_do_not_fit_beside_what_is_in_flight_are_refused_with_a_retry_hint() -> None:
    admission = Admission(100_000)
    body = otlp.to_protobuf(otlp.edit_request("org", lines=5, cost=0.5))  # 4 points: 4 × 2 048 B
    parsing = parsing_bytes("protobuf", len(body))
    assert parsing == 7 * len(body)
    held = admission.admit(100_000 - parsing - 8_000)  # room for the parsed body, not for its points too
    with admission.admit(len(body)) as ticket:
        with pytest.raises(OverBudget, match="retry after 1 s") as caught:
            decode("metrics", body, "protobuf", Sender(), RequestBounds("metrics", "protobuf", 10, ticket, len(body)))
        assert caught.value.retry_after_s == 1
        assert ticket.size == parsing  # the reservation stays as it was until the handler releases it
    assert admission.refused == 1
    held.release()
    # Alone, a request larger than the whole budget is still taken (as one larger body is); once decoded it
    # holds its body and items.
    with admission.admit(len(body)) as ticket:
        decode("metrics", body, "protobuf", Sender(), RequestBounds("metrics", "protobuf", 100, ticket, len(body)))
        assert admission.inflight_bytes == len(body) + 4 * 2048
    assert admission.inflight_bytes == 0


@pytest.mark.parametrize(("encoding", "factor"), [("protobuf", 7), ("json", 11)])
def test_a_body_whose_parsed_form_does_not_fit_is_refused_before_it_is_parsed(encoding: str, factor: int) -> None:
    admission = Admission(100_000)
    body = bytes(1000)  # not a request: parsed, it would be a DecodeFailure
    for held_bytes, refusal in ((100_000 - factor * 1000 + 1, OverBudget), (100_000 - factor * 1000, DecodeFailure)):
        held = admission.admit(held_bytes)
        with admission.admit(len(body)) as ticket, pytest.raises(refusal):
            bounds = RequestBounds("metrics", encoding, 10, ticket, len(body))
            decode("metrics", body, encoding, Sender(), bounds)
        held.release()


@pytest.mark.parametrize(("signal", "count"), [("metrics", 11), ("logs", 13)])
def test_a_claude_code_exports_decoded_items_stay_within_the_per_item_estimate(signal: str, count: int) -> None:
    """ITEM_BYTES covers a decoded item and the facts made from it (about a sixth of it): the decoded items of
    Claude Code's own exports, a few KB decoded value by value, take less than ITEM_BYTES each."""
    document = json.loads((TESTDATA / f"claude-code-2.1.331-{signal}.json").read_bytes())
    body = otlp.to_protobuf(document, signal)
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        decoded = [decode(signal, body, "protobuf", Sender()) for _ in range(50)]
        held = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    items = sum(d.batch.size for d in decoded if d.batch is not None)
    assert items == 50 * count
    assert 0.5 * ITEM_BYTES[signal] < held / items < ITEM_BYTES[signal], held / items


def test_a_request_declaring_more_than_is_left_is_refused_for_what_it_declares_and_holds_nothing() -> None:
    admission = Admission(1000)
    held = admission.admit(600)
    with pytest.raises(OverBudget) as refused:
        admission.admit(0, expected=401)
    assert str(refused.value) == (
        "collector is busy: 600 bytes of requests in flight, limit 1000 (this request: 401 bytes); retry after 1 s"
    )
    assert admission.inflight_bytes == 600 and admission.inflight_requests == 1 and admission.refused == 1
    fits = admission.admit(0, expected=400)  # admitted with nothing: it holds what arrives
    assert admission.inflight_bytes == 600
    fits.release()
    held.release()
    admission.admit(0, expected=5000).release()  # larger than the budget: taken when nothing is in flight
