"""Nesting limits of the decoder: deep AnyValues and deep JSON are a DecodeFailure (400 / INVALID_ARGUMENT)
with the reason, the same on the direct JSON path, the ParseDict path and protobuf; never a RecursionError."""

from __future__ import annotations

import json

import pytest

from receiver.otlp.decode import (
    ANY_VALUE_TOO_DEEP,
    JSON_TOO_DEEP,
    MAX_ANY_VALUE_DEPTH,
    DecodeFailure,
    decode_logs,
    decode_metrics,
)
from tests.support import otlp_raw as otlp

assert MAX_ANY_VALUE_DEPTH == 16


def _nested(depth: int, kind: str) -> str:
    if kind == "kvlist":
        return '{"kvlistValue":{"values":[{"key":"k","value":' * depth + '{"stringValue":"x"}' + "}]}}" * depth
    return '{"arrayValue":{"values":[' * depth + '{"stringValue":"x"}' + "]}}" * depth


def _document(proto_names: bool = False) -> dict:
    points = "data_points" if proto_names else "dataPoints"  # proto field names take the ParseDict path
    return {"resourceMetrics": [{"scopeMetrics": [{"metrics": [{
        "name": "claude_code.lines_of_code.count",
        "sum": {"aggregationTemporality": 1, "isMonotonic": True, points: [{
            "timeUnixNano": "2", "asDouble": 3.0,
            "attributes": [{"key": "type", "value": {"stringValue": "added"}}, {"key": "deep", "value": "@D@"}],
        }]},
    }]}]}]}  # fmt: skip


def _json(depth: int, kind: str, proto_names: bool = False) -> bytes:
    return json.dumps(_document(proto_names)).replace('"@D@"', _nested(depth, kind)).encode()


def _protobuf(depth: int, kind: str) -> bytes:
    document = _document()
    document["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["sum"]["dataPoints"][0]["attributes"].pop()
    return otlp.deeply_nested(document, depth, kind)


ENCODINGS = {
    "json": lambda depth, kind: (_json(depth, kind), "json"),
    "json-parsedict": lambda depth, kind: (_json(depth, kind, proto_names=True), "json"),
    "protobuf": lambda depth, kind: (_protobuf(depth, kind), "protobuf"),
}


@pytest.mark.parametrize("kind", ["kvlist", "array"])
@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_sixteen_levels_decode_and_seventeen_are_refused_with_the_reason(encoding: str, kind: str) -> None:
    body, wire = ENCODINGS[encoding](MAX_ANY_VALUE_DEPTH, kind)
    points, rejected, _ = decode_metrics(body, wire)
    assert (len(points), rejected) == (1, 0)
    assert json.loads(points[0].attributes["deep"])  # kept as JSON text
    body, wire = ENCODINGS[encoding](MAX_ANY_VALUE_DEPTH + 1, kind)
    with pytest.raises(DecodeFailure) as refused:
        decode_metrics(body, wire)
    assert str(refused.value) == ANY_VALUE_TOO_DEEP


@pytest.mark.parametrize("depth", [40, 400, 5_000])
def test_far_deeper_values_are_refused_on_both_json_paths(depth: int) -> None:
    for proto_names in (False, True):
        with pytest.raises(DecodeFailure, match="nested deeper"):
            decode_metrics(_json(depth, "kvlist", proto_names), "json")


@pytest.mark.parametrize(
    "body",
    [
        b'{"resourceMetrics": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        b"[" * 50_000 + b"]" * 50_000,
        b'{"resourceLogs": ' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"}",
    ],
    ids=["arrays-in-a-field", "bare-arrays", "objects"],
)
def test_json_nested_50000_levels_is_a_decode_failure(body: bytes) -> None:
    for decode in (lambda: decode_metrics(body, "json"), lambda: decode_logs(body, "json", 1)):
        with pytest.raises(DecodeFailure) as refused:
            decode()
        assert str(refused.value) == JSON_TOO_DEEP
