"""Bad input (issue 2): each malformed, oversize or unauthenticated request gets its clear error, the process
stays up, and the figures of good requests sent before and after are intact. Against the real collector.

One collector serves the module (tokens required, a 64 KiB request limit); each test uses its own
organization, so its exact figures are its own.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterator

import grpc
import httpx
import pytest
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from pdata.vocabulary import OTLP_ITEMS
from tests.support import otlp_raw as otlp
from tests.support.collector import CollectorProcess
from tests.support.running import running_with_token

TOKEN = "bad-input-test-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}
LIMIT = 64 * 1024
JSON = otlp.CONTENT_TYPES["json"]
PROTOBUF = otlp.CONTENT_TYPES["protobuf"]


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    yield from running_with_token(
        tmp_path_factory.mktemp("bad-input"),
        TOKEN,
        extra_env={"CC_ANALYTICS_LIMITS_MAX_REQUEST_BYTES": str(LIMIT)},
    )


class Around:
    """A good request before the bad one, one after: both counted exactly, nothing else, process alive."""

    def __init__(self, collector: CollectorProcess, org: str, finally_expect: dict | None = None) -> None:
        self.collector = collector
        self.org = org
        # what the organization's figures are once the good request after is counted
        self.finally_expect = finally_expect or otlp.edit_figures(8, 0.375, accepts=2, users=2)

    def __enter__(self) -> Around:
        otlp.send(self.collector, "http/protobuf", otlp.edit_request(self.org, lines=5, cost=0.25, name="before"),
                  headers=AUTH)  # fmt: skip
        assert otlp.figures(self.collector, self.org) == otlp.edit_figures(5, 0.25)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if exc_info[0] is not None:
            return
        assert self.collector.process.poll() is None, self.collector.log()
        assert httpx.get(f"{self.collector.api_url}/healthz", timeout=10).status_code == 200
        otlp.send(self.collector, "grpc", otlp.edit_request(self.org, lines=3, cost=0.125, name="after"),
                  headers=AUTH)  # fmt: skip
        assert otlp.figures(self.collector, self.org) == self.finally_expect


def _good(org: str, signal: str = "metrics") -> dict:
    if signal == "logs":
        return otlp.logs_request(org, ["user_prompt"], name="bad")
    return otlp.edit_request(org, lines=100, cost=1.0, name="bad")


def _reason(response: httpx.Response) -> str:
    """The reason of an OTLP/HTTP refusal: a google.rpc.Status, as JSON or protobuf after the request's type."""
    if response.headers["content-type"].startswith("application/json"):
        document = response.json()
        assert isinstance(document["code"], int) and document["code"] > 0
        return document["message"]
    status = status_pb2.Status.FromString(response.content)
    assert status.code > 0
    return status.message


def _refused(response: httpx.Response, status: int, *words: str) -> str:
    assert response.status_code == status, (response.status_code, response.content[:500])
    reason = _reason(response)
    assert reason, "a refusal must say why"
    for word in words:
        assert word.lower() in reason.lower(), (word, reason)
    return reason


def _grpc_refused(call, code: grpc.StatusCode, *words: str) -> str:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    error = caught.value
    assert error.code() == code, (error.code(), error.details())
    details = error.details() or ""
    assert details, "a refusal must say why"
    for word in words:
        assert word.lower() in details.lower(), (word, details)
    return details


# --- malformed bodies -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("signal", ["metrics", "logs"])
def test_truncated_protobuf_is_400(collector, org: str, signal: str) -> None:
    body = otlp.to_protobuf(_good(org, signal), signal)
    with Around(collector, org):
        for cut in (body[: len(body) // 2], body[:-3]):
            _refused(otlp.post(collector, signal, cut, PROTOBUF, AUTH), 400, "protobuf")


def test_truncated_protobuf_over_grpc_is_invalid_argument(collector, org: str) -> None:
    body = otlp.to_protobuf(_good(org))
    with Around(collector, org):
        _grpc_refused(lambda: otlp.grpc_export(collector, "metrics", body[:-3], list(AUTH.items())),
                      grpc.StatusCode.INVALID_ARGUMENT, "protobuf")  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [b'{"resourceMetrics": [', b"not json at all", b"\xff\xfe{}", b""],
    ids=["unterminated", "text", "not-utf8", "empty"],
)
def test_invalid_json_is_400(collector, org: str, body: bytes) -> None:
    with Around(collector, org):
        _refused(otlp.post(collector, "metrics", body, JSON, AUTH), 400, "JSON")


@pytest.mark.parametrize(
    "document",
    [
        [1, 2],
        "resourceMetrics",
        {"resourceMetrics": {"scopeMetrics": []}},
        {"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "x", "sum": {"dataPoints": "many"}}]}]}]},
        {
            "resourceMetrics": [
                {
                    "scopeMetrics": [
                        {
                            "metrics": [
                                {"name": "x", "sum": {"dataPoints": [{"timeUnixNano": "1", "asDouble": {"value": 1}}]}}
                            ]
                        }
                    ]
                }
            ]
        },
    ],
    ids=["array", "string", "object-for-list", "string-for-list", "object-for-number"],
)
def test_json_of_the_wrong_shape_is_400(collector, org: str, document) -> None:
    with Around(collector, org):
        _refused(otlp.post(collector, "metrics", json.dumps(document).encode(), JSON, AUTH), 400)


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"resourceLogs": [{"scopeLogs": [{"logRecords": {"body": "x"}}]}]}, "logRecords"),
        ({"resourceLogs": 5}, "resourceLogs"),
        ({"resourceLogs": [{"scopeLogs": 7}]}, "scopeLogs"),
        ({"resourceLogs": [{"scopeLogs": [{"logRecords": 1.5}]}]}, "logRecords"),
        ({"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": "not-hex"}]}]}]}, "traceId"),
    ],
    ids=["object-for-list", "number-for-list", "nested-number", "float-for-list", "trace-id-not-hex"],
)
def test_logs_json_of_the_wrong_shape_is_400(collector, org: str, document: dict, field: str) -> None:
    with Around(collector, org):
        _refused(otlp.post(collector, "logs", json.dumps(document).encode(), JSON, AUTH), 400, field)


@pytest.mark.parametrize(
    "value",
    [{"intValue": "abc"}, {"intValue": 1.5}, {"boolValue": "yes"}, {"doubleValue": "much"}, {"stringValue": 5}],
    ids=["int-abc", "int-fraction", "bool-text", "double-text", "string-number"],
)
def test_wrong_attribute_types_are_400(collector, org: str, value: dict) -> None:
    document = _good(org)
    data_point = document["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["sum"]["dataPoints"][0]
    data_point["attributes"].append({"key": "bad", "value": value})
    logs = _good(org, "logs")
    logs["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["attributes"].append({"key": "bad", "value": value})
    with Around(collector, org):
        _refused(otlp.post(collector, "metrics", otlp.to_json(document), JSON, AUTH), 400, next(iter(value)))
        _refused(otlp.post(collector, "logs", otlp.to_json(logs), JSON, AUTH), 400, next(iter(value)))


def test_protobuf_body_labelled_json_and_json_labelled_protobuf_are_400(collector, org: str) -> None:
    document = _good(org)
    with Around(collector, org):
        _refused(otlp.post(collector, "metrics", otlp.to_protobuf(document), JSON, AUTH), 400, "JSON")
        _refused(otlp.post(collector, "metrics", otlp.to_json(document), PROTOBUF, AUTH), 400, "protobuf")


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "", "multipart/form-data; boundary=x"])
def test_wrong_content_type_is_415(collector, org: str, content_type: str) -> None:
    with Around(collector, org):
        response = httpx.post(
            f"{collector.otlp_http_url}/v1/metrics",
            content=otlp.to_json(_good(org)),
            headers={"content-type": content_type, **AUTH} if content_type else AUTH,
            timeout=30,
        )
        _refused(response, 415, "Content-Type")


# --- compression and size ---------------------------------------------------------------------------------------


def test_gzip_that_does_not_inflate_is_400(collector, org: str) -> None:
    body = otlp.to_protobuf(_good(org))
    compressed = otlp.gzipped(body)
    with Around(collector, org):
        for broken in (b"\x1f\x8b\x08\x00garbage-not-deflate" * 4, body, compressed[: len(compressed) // 2]):
            _refused(otlp.post(collector, "metrics", broken, PROTOBUF, {**AUTH, "content-encoding": "gzip"}), 400,
                     "gzip")  # fmt: skip


def test_unknown_content_encoding_is_400(collector, org: str) -> None:
    with Around(collector, org):
        _refused(otlp.post(collector, "metrics", otlp.to_protobuf(_good(org)), PROTOBUF,
                           {**AUTH, "content-encoding": "br"}), 400, "Content-Encoding")  # fmt: skip


def test_gzip_bomb_is_413(collector, org: str) -> None:
    # A valid request padded with an unknown field of zeros: tiny compressed, far past the limit inflated.
    body = otlp.to_protobuf(_good(org)) + b"\x7a" + _varint(50 * LIMIT) + bytes(50 * LIMIT)
    for level, bomb in ((9, otlp.gzipped(body)), (1, otlp.gzipped(body, 1))):
        assert len(bomb) < LIMIT, (level, len(bomb))
    deflated = zlib.compress(body, 9)
    with Around(collector, org):
        _refused(otlp.post(collector, "metrics", otlp.gzipped(body), PROTOBUF, {**AUTH, "content-encoding": "gzip"}),
                 413, "limit")  # fmt: skip
        _refused(otlp.post(collector, "metrics", deflated, PROTOBUF, {**AUTH, "content-encoding": "deflate"}),
                 413, "limit")  # fmt: skip
        json_bomb = otlp.to_json(_good(org))[:-1] + b', "padding": "' + b" " * (50 * LIMIT) + b'"}'
        _refused(otlp.post(collector, "metrics", otlp.gzipped(json_bomb), JSON, {**AUTH, "content-encoding": "gzip"}),
                 413, "limit")  # fmt: skip


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte = number & 0x7F
        number >>= 7
        out.append(byte | (0x80 if number else 0))
        if not number:
            return bytes(out)


def _oversize(org: str) -> bytes:
    """A well-formed request over the limit: many good points."""
    base = otlp.now_ns()
    ident = otlp.who(org, "huge")
    points = [otlp.point(1, {**ident, "type": "added", "n": str(index)}, base + index) for index in range(1000)]
    body = otlp.to_protobuf(otlp.metrics_request([otlp.sum_metric(otlp.LINES, points)]))
    assert len(body) > LIMIT
    return body


def test_oversize_body_is_413(collector, org: str) -> None:
    body = _oversize(org)
    with Around(collector, org):
        _refused(otlp.post(collector, "metrics", body, PROTOBUF, AUTH), 413, "limit")

        def chunks():  # no Content-Length: the limit holds while streaming
            for start in range(0, len(body), 8192):
                yield body[start : start + 8192]

        response = httpx.post(f"{collector.otlp_http_url}/v1/metrics", content=chunks(),
                              headers={"content-type": PROTOBUF, **AUTH}, timeout=30)  # fmt: skip
        assert "content-length" not in {key.lower() for key in response.request.headers}
        _refused(response, 413, "limit")


def test_oversize_over_grpc_is_resource_exhausted(collector, org: str) -> None:
    body = _oversize(org)
    bomb = otlp.to_protobuf(_good(org)) + b"\x7a" + _varint(50 * LIMIT) + bytes(50 * LIMIT)
    with Around(collector, org):
        _grpc_refused(lambda: otlp.grpc_export(collector, "metrics", body, list(AUTH.items())),
                      grpc.StatusCode.RESOURCE_EXHAUSTED)  # fmt: skip
        # gRPC's own message compression: small on the wire, past the limit once inflated.
        _grpc_refused(lambda: otlp.grpc_export(collector, "metrics", bomb, list(AUTH.items()), gzip_compressed=True),
                      grpc.StatusCode.RESOURCE_EXHAUSTED)  # fmt: skip


# --- partial success ----------------------------------------------------------------------------------------------


def _mixed(org: str) -> dict:
    """Good points (4 added and 2 removed lines, one accept, one session) next to 6 bad ones: a histogram's 2
    points, a point without value, an infinite one, a negative one on a monotonic sum, one without a time."""
    base = otlp.now_ns()
    ident = otlp.who(org, "mixed")
    document = otlp.edit_request(org, lines=4, name="mixed", time_ns=base)
    metrics = document["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
    metrics.append({
        "name": "claude_code.request.latency",
        "histogram": {"aggregationTemporality": 1, "dataPoints": [
            {"timeUnixNano": str(base), "count": "1", "sum": 5.0, "attributes": []},
            {"timeUnixNano": str(base), "count": "2", "sum": 7.0, "attributes": []},
        ]},
    })  # fmt: skip
    no_value = otlp.point(1, {**ident, "type": "added"}, base)
    del no_value["asDouble"]
    infinite = {**otlp.point(1, {**ident, "type": "added", "x": "inf"}, base), "asDouble": "Infinity"}
    negative = otlp.point(-5, {**ident, "type": "added", "x": "neg"}, base)
    no_time = {**otlp.point(1, {**ident, "type": "added", "x": "no-time"}, base), "timeUnixNano": "0"}
    metrics.append(otlp.sum_metric(otlp.LINES, [otlp.point(2, {**ident, "type": "removed"}, base), no_value,
                                                infinite, negative, no_time]))  # fmt: skip
    return document


def _assert_mixed_counted(collector: CollectorProcess, org: str) -> None:
    assert otlp.figures(collector, org) == {**otlp.edit_figures(4), "removed_lines": 2}


@pytest.mark.parametrize("protocol", ["http/json", "http/protobuf", "grpc"])
def test_bad_points_next_to_good_ones_give_partial_success(collector, org: str, protocol: str) -> None:
    document = _mixed(org)
    if protocol == "grpc":
        answer = ExportMetricsServiceResponse.FromString(
            otlp.grpc_export(collector, "metrics", otlp.to_protobuf(document), list(AUTH.items()))
        )
    elif protocol == "http/json":
        response = otlp.post(collector, "metrics", otlp.to_json(document), JSON, AUTH)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        answer = json_format.Parse(response.text, ExportMetricsServiceResponse())
        assert int(response.json()["partialSuccess"]["rejectedDataPoints"]) == 6
    else:
        response = otlp.post(collector, "metrics", otlp.to_protobuf(document), PROTOBUF, AUTH)
        assert response.status_code == 200, response.content
        answer = ExportMetricsServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_data_points == 6
    message = answer.partial_success.error_message
    for reason in ("histogram", "without a value", "not finite", "negative", "timeUnixNano"):
        assert reason in message, (reason, message)
    _assert_mixed_counted(collector, org)

    # A retry of that request is acknowledged the same way, and not counted again.
    if protocol == "http/json":
        retry = otlp.post(collector, "metrics", otlp.to_json(document), JSON, AUTH)
        assert retry.status_code == 200
    _assert_mixed_counted(collector, org)


def test_values_the_store_cannot_hold_are_rejected_alone(collector, org: str) -> None:
    """A point stamped after 2262 (past DateTime64(9)) is rejected alone, as partial success; an event with such
    a time falls back to its arrival time. Neither may fail the store write (a 503 the client retries forever).
    A finite but absurd value (two of which sum to infinity, which no JSON figure carries) is rejected too."""
    base = otlp.now_ns()
    document = otlp.edit_request(org, lines=4, name="clock", time_ns=base)
    metrics = document["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
    far = 2**64 - 1
    metrics.append(otlp.sum_metric(otlp.LINES, [
        otlp.point(50, {**otlp.who(org, "clock"), "type": "added", "x": "far"}, far, base),
        otlp.point(60, {**otlp.who(org, "clock"), "type": "added", "x": "far-start"}, base, far),
    ]))  # fmt: skip
    huge = otlp.metrics_request([otlp.sum_metric(otlp.COST, [
        otlp.point(1e308, {**otlp.who(org, "clock"), "model": "m", "n": str(n)}, base) for n in range(2)
    ], unit="USD")])  # fmt: skip
    events = otlp.logs_request(org, ["user_prompt"], name="late", session="late")
    events["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["timeUnixNano"] = str(far)
    # before: 5 lines, 0.25 USD; clock: 4 lines, 2 accepts; late: active through its event; after: 3 lines, 0.125
    with Around(collector, org, otlp.edit_figures(12, 0.375, accepts=4, users=4, sessions=2)):
        response = otlp.post(collector, "metrics", otlp.to_json(document), JSON, AUTH)
        assert response.status_code == 200, response.text
        partial = response.json()["partialSuccess"]
        assert int(partial["rejectedDataPoints"]) == 2 and "2262" in partial["errorMessage"], partial
        over_grpc = otlp.edit_request(org, lines=0, name="clock", time_ns=base + 1)
        far_point = otlp.point(70, {**otlp.who(org, "clock"), "type": "added"}, far, 1)
        over_grpc["resourceMetrics"][0]["scopeMetrics"][0]["metrics"].append(otlp.sum_metric(otlp.LINES, [far_point]))
        body = otlp.to_protobuf(over_grpc)
        answer = ExportMetricsServiceResponse.FromString(
            otlp.grpc_export(collector, "metrics", body, list(AUTH.items()))
        )
        assert answer.partial_success.rejected_data_points == 1
        otlp.send(collector, "http/protobuf", events, "logs", headers=AUTH)
        response = otlp.post(collector, "metrics", otlp.to_protobuf(huge), PROTOBUF, AUTH)
        assert response.status_code == 200, response.content
        answer = ExportMetricsServiceResponse.FromString(response.content)
        assert answer.partial_success.rejected_data_points == 2
        assert "out of range" in answer.partial_success.error_message
        assert collector.team(otlp.day_range()[1][:7])["members"]  # the read API still answers
        assert otlp.figures(collector, org) == otlp.edit_figures(9, 0.25, accepts=3, users=3, sessions=2)


# --- authentication -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "Basic dXNlcjpwYXNz", "Bearer"],
                         ids=["none", "wrong", "basic", "empty"])  # fmt: skip
def test_unauthenticated_http_is_401(collector, org: str, authorization: str | None) -> None:
    headers = {"authorization": authorization} if authorization is not None else {}
    with Around(collector, org):
        for content_type, body in ((PROTOBUF, otlp.to_protobuf(_good(org))), (JSON, otlp.to_json(_good(org)))):
            response = otlp.post(collector, "metrics", body, content_type, headers)
            _refused(response, 401, "token")
            assert response.headers["www-authenticate"].lower().startswith("bearer")
        _refused(otlp.post(collector, "logs", otlp.to_json(_good(org, "logs")), JSON, headers), 401, "token")
    assert TOKEN not in collector.log()


@pytest.mark.parametrize("metadata", [[], [("authorization", "Bearer wrong-token")]], ids=["none", "wrong"])
def test_unauthenticated_grpc_is_unauthenticated(collector, org: str, metadata: list) -> None:
    with Around(collector, org):
        for signal in ("metrics", "logs"):
            body = otlp.to_protobuf(_good(org, signal), signal)
            _grpc_refused(lambda body=body, signal=signal: otlp.grpc_export(collector, signal, body, metadata),
                          grpc.StatusCode.UNAUTHENTICATED, "token")  # fmt: skip


# --- traces -------------------------------------------------------------------------------------------------------


def _spans(count: int, ids: str = "hex") -> dict:
    """`count` spans; OTLP/JSON writes ids in hex, protobuf's own JSON mapping (for ParseDict) in base64."""

    def encode(hex_id: str) -> str:
        return hex_id if ids == "hex" else base64.b64encode(bytes.fromhex(hex_id)).decode()

    return {
        "resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]},
            "scopeSpans": [{
                "scope": {"name": "com.anthropic.claude_code.tracing"},
                "spans": [{
                    "traceId": encode("5b8efff798038103d269b633813fc60c"),
                    "spanId": encode(f"eee19b7ec3c1b17{index}"),
                    "name": "claude_code.interaction",
                    "kind": 1,
                    "startTimeUnixNano": "1",
                    "endTimeUnixNano": "2",
                } for index in range(count)],
            }],
        }]
    }  # fmt: skip


def _dropped_spans(collector: CollectorProcess) -> dict[str, float]:
    found = {"http": 0.0, "grpc": 0.0}
    for sample in collector.metric_samples(OTLP_ITEMS.sample, signal="traces", outcome="dropped"):
        found[sample.labels["protocol"]] += sample.value
    return found


def test_traces_are_answered_success_and_counted_as_dropped(collector, org: str) -> None:
    before = _dropped_spans(collector)
    with Around(collector, org):
        # OTLP/JSON writes trace and span ids in hex.
        response = otlp.post(collector, "traces", json.dumps(_spans(2)).encode(), JSON, AUTH)
        assert response.status_code == 200, response.text
        assert response.json() == {}

        message = ExportTraceServiceRequest()
        json_format.ParseDict(_spans(3, ids="base64"), message)
        assert len(message.resource_spans[0].scope_spans[0].spans[0].span_id) == 8
        response = otlp.post(collector, "traces", message.SerializeToString(), PROTOBUF, AUTH)
        assert response.status_code == 200, response.content
        assert ExportTraceServiceResponse.FromString(response.content) == ExportTraceServiceResponse()

        answer = otlp.grpc_export(collector, "traces", message.SerializeToString(), list(AUTH.items()))
        assert ExportTraceServiceResponse.FromString(answer) == ExportTraceServiceResponse()
    after = _dropped_spans(collector)
    assert after["http"] - before["http"] == 5
    assert after["grpc"] - before["grpc"] == 3


# --- the read API's parameters ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "words"),
    [
        ("/api/v1/analytics", {"start": "2026-13-01", "end": "2026-12-31"}, ["start"]),
        ("/api/v1/analytics", {"start": "yesterday", "end": "2026-12-31"}, ["start"]),
        ("/api/v1/analytics", {"start": "2026-11-01", "end": "2026-11-31"}, ["end"]),
        ("/api/v1/analytics", {"start": "2026-11-01", "end": "20261130"}, ["end"]),
        ("/api/v1/analytics", {"start": "2026-11-30", "end": "2026-11-01"}, ["start", "after"]),
        ("/api/v1/team", {"month": "2026-13"}, ["month"]),
        ("/api/v1/team", {"month": "2026-00"}, ["month"]),
        ("/api/v1/team", {"month": "November"}, ["month"]),
        ("/api/v1/team", {"month": "2026-11-01"}, ["month"]),
    ],
    ids=["bad-month-in-date", "word-date", "day-31-of-november", "compact-date", "start-after-end",
         "month-13", "month-00", "month-name", "month-with-day"],
)  # fmt: skip
def test_read_api_bad_parameters_are_400_with_a_reason(collector, path: str, params: dict, words: list) -> None:
    response = collector.api_get(path, **params)
    assert response.status_code == 400, (response.status_code, response.text)
    text = response.text.lower()
    for word in words:
        assert word in text, (word, response.text)
    assert collector.process.poll() is None
