"""What the real Claude Code CLI sent (tests/fixtures and ../shared/fixtures) through the receiver's decoder:
exact flattened figures, event names, and the encoding quirks (numbers in strings, booleans, arrays)."""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from pdata import Batch, Sender
from receiver.otlp.decode import DecodeFailure
from receiver.otlp.ingest import decode

REPO = Path(__file__).resolve().parents[2]
FIXTURE_DIRS = [REPO / "tests" / "fixtures", REPO.parent / "shared" / "fixtures"]
FIXTURE_FILES = sorted(path for folder in FIXTURE_DIRS if folder.is_dir() for path in folder.glob("*.jsonl"))

ACCEPT_EDITS_EVENTS = [
    "managed_settings_resolved", "plugin_loaded", "plugin_loaded", "plugin_loaded", "user_prompt",
    "api_request", "tool_decision", "tool_result",
    "api_request", "tool_decision", "tool_result",
    "api_request", "assistant_response",
]  # fmt: skip
DEFAULT_MODE_EVENTS = [
    "managed_settings_resolved", "plugin_loaded", "plugin_loaded", "plugin_loaded", "user_prompt",
    "api_request", "tool_decision", "api_request", "api_request", "assistant_response",
]  # fmt: skip
TOKENS = {"input": 3600.0, "output": 450.0, "cacheRead": 9000.0, "cacheCreation": 1500.0}
_REQUEST_TYPES = {"metrics": ExportMetricsServiceRequest, "logs": ExportLogsServiceRequest}


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _wire(record: dict[str, Any]) -> tuple[str, bytes, str]:
    """(signal, body bytes as the collector received them, encoding) of one captured request."""
    signal = record["path"].rsplit("/", 1)[-1]
    if "raw_json" in record:
        raw = record["raw_json"]
        return signal, (raw if isinstance(raw, str) else json.dumps(raw)).encode(), "json"
    message = _REQUEST_TYPES[signal]()
    json_format.ParseDict(record["body"], message)
    return signal, message.SerializeToString(), "protobuf"


def _decode_file(path: Path) -> list[Batch]:
    batches = []
    for record in _records(path):
        signal, body, encoding = _wire(record)
        decoded = decode(signal, body, encoding, Sender())
        assert decoded.batch is not None
        assert decoded.batch.rejected == 0, decoded.batch.rejected_reason
        batches.append(decoded.batch)
    return batches


def _sums(batches: list[Batch]) -> dict[tuple[str, ...], float]:
    sums: dict[tuple[str, ...], float] = defaultdict(float)
    for batch in batches:
        for point in batch.points:
            attributes = point.attributes
            if point.metric == "claude_code.code_edit_tool.decision":
                key = (point.metric, attributes.get("tool_name", ""), attributes.get("decision", ""))
            else:
                key = (point.metric, attributes.get("type", ""))
            sums[key] += point.value
    return dict(sums)


def test_fixtures_are_present() -> None:
    names = {path.name for path in FIXTURE_FILES}
    assert {
        "cc-2.1.331-grpc-acceptedits.jsonl",
        "cc-2.1.331-http-protobuf-acceptedits.jsonl",
        "cc-2.1.331-http-json-acceptedits.jsonl",
        "cc-2.1.331-http-json-default-mode.jsonl",
    } <= names


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda path: f"{path.parent.parent.name}/{path.name}")
def test_fixture_decodes_to_exact_figures(path: Path) -> None:
    default_mode = "default-mode" in path.name
    batches = _decode_file(path)
    assert sorted(batch.signal for batch in batches) == ["logs", "metrics"]
    sums = _sums(batches)

    points = [point for batch in batches for point in batch.points]
    assert {point.temporality for point in points} == {1}  # Claude Code's default: delta
    assert all(point.monotonic and point.time_ns > 0 and point.start_ns > 0 for point in points)
    assert {point.scope for point in points} == {"com.anthropic.claude_code"}
    assert all(point.resource["service.name"] == "claude-code" for point in points)
    assert all(point.resource["service.version"] == "2.1.331" for point in points)

    assert sums[("claude_code.session.count", "")] == 1.0
    assert sums[("claude_code.cost.usage", "")] == pytest.approx(0.0327, abs=1e-12)
    assert {kind: sums[("claude_code.token.usage", kind)] for kind in TOKENS} == TOKENS
    decisions = {key[1:]: value for key, value in sums.items() if key[0] == "claude_code.code_edit_tool.decision"}
    if default_mode:
        assert ("claude_code.lines_of_code.count", "added") not in sums
        assert ("claude_code.lines_of_code.count", "removed") not in sums
        assert decisions == {("Write", "reject"): 1.0}
    else:
        assert sums[("claude_code.lines_of_code.count", "added")] == 8.0
        assert sums[("claude_code.lines_of_code.count", "removed")] == 1.0
        assert decisions == {("Write", "accept"): 1.0, ("Edit", "accept"): 1.0}
    assert set(sums) - {key for key in sums if key[0] != "claude_code.active_time.total"} == {
        ("claude_code.active_time.total", "cli")
    }

    events = [event for batch in batches for event in batch.events]
    names = [event.name for event in events]
    assert names == (DEFAULT_MODE_EVENTS if default_mode else ACCEPT_EDITS_EVENTS)
    assert len(events) == (10 if default_mode else 13)
    for sequence, event in enumerate(events):
        assert event.body == f"claude_code.{event.name}"
        assert event.attributes["event.name"] == event.name
        assert event.attributes["event.sequence"] == str(sequence)  # intValue (string or JSON number) → "n"
        assert event.scope == "com.anthropic.claude_code.events"
        assert event.time_ns > 0
        assert event.attributes["user.id"] and event.attributes["session.id"]
        # a boolValue attribute is flattened to "true"/"false"
        assert event.attributes["anthropic.custom_base_url"] == "true"
    assert all(point.attributes["anthropic.custom_base_url"] == "true" for point in points)

    by_name: dict[str, list] = defaultdict(list)
    for event in events:
        by_name[event.name].append(event)
    # an arrayValue attribute (empty here) is flattened to its JSON text
    assert by_name["managed_settings_resolved"][0].attributes["managed_settings.sources"] == "[]"
    # numbers as strings stay the same digits; real numbers (intValue, doubleValue) become their text
    assert by_name["user_prompt"][0].attributes["prompt_length"] == "28"
    requests = by_name["api_request"]
    assert len(requests) == 3
    for request in requests:
        attributes = request.attributes
        assert (attributes["input_tokens"], attributes["output_tokens"]) == ("1200", "150")
        assert (attributes["cache_read_tokens"], attributes["cache_creation_tokens"]) == ("3000", "500")
        assert (attributes["cost_usd"], attributes["cost_usd_micros"]) == ("0.0109", "10900")
        assert attributes["duration_ms"].isdigit()
        assert attributes["model"] == "claude-opus-5-5"
    assert sum(float(request.attributes["cost_usd"]) for request in requests) == pytest.approx(0.0327, abs=1e-12)
    decision_events = {(e.attributes["tool_name"], e.attributes["decision"]) for e in by_name["tool_decision"]}
    if default_mode:
        assert decision_events == {("Write", "reject")}
        assert by_name["tool_result"] == []
    else:
        assert decision_events == {("Write", "accept"), ("Edit", "accept")}
        assert [e.attributes["tool_name"] for e in by_name["tool_result"]] == ["Write", "Edit"]
        for result in by_name["tool_result"]:
            assert result.attributes["success"] == "true"
            assert result.attributes["duration_ms"].isdigit()  # sent as a string


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda path: f"{path.parent.parent.name}/{path.name}")
def test_fixture_digest_is_stable_and_per_request(path: Path) -> None:
    first = [batch.digest for batch in _decode_file(path)]
    assert first == [batch.digest for batch in _decode_file(path)]
    assert len(set(first)) == len(first)
    assert all(len(digest) == 16 for digest in first)


def _json_fixture(name: str) -> dict[str, Any]:
    path = next(path for path in FIXTURE_FILES if path.name == name)
    return {record["path"]: record["raw_json"] for record in _records(path)}


def _stringify_numbers(node: Any) -> Any:
    """Claude Code's JSON quirks, the other way round: numbers become strings and int64 strings numbers."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in ("asDouble", "doubleValue"):
                out[key] = repr(float(value))
            elif key in ("intValue", "asInt", "timeUnixNano", "startTimeUnixNano"):
                out[key] = str(value) if isinstance(value, int) else int(value)
            else:
                out[key] = _stringify_numbers(value)
        return out
    if isinstance(node, list):
        return [_stringify_numbers(item) for item in node]
    return node


def test_numbers_in_strings_and_json_numbers_decode_to_the_same_figures() -> None:
    original = _json_fixture("cc-2.1.331-http-json-acceptedits.jsonl")
    for signal in ("metrics", "logs"):
        document = original[f"/v1/{signal}"]
        quirky = _stringify_numbers(copy.deepcopy(document))
        assert quirky != document
        plain = decode(signal, json.dumps(document).encode(), "json", Sender()).batch
        odd = decode(signal, json.dumps(quirky).encode(), "json", Sender()).batch
        assert plain is not None and odd is not None
        assert [(p.metric, p.value, p.attributes) for p in odd.points] == [
            (p.metric, p.value, p.attributes) for p in plain.points
        ]
        assert [(e.name, e.attributes) for e in odd.events] == [(e.name, e.attributes) for e in plain.events]


def test_a_wrongly_typed_attribute_is_a_decode_failure_with_its_path() -> None:
    document = copy.deepcopy(_json_fixture("cc-2.1.331-http-json-acceptedits.jsonl")["/v1/logs"])
    record = document["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    record["attributes"].append({"key": "event.sequence", "value": {"intValue": "abc"}})
    with pytest.raises(DecodeFailure, match="intValue"):
        decode("logs", json.dumps(document).encode(), "json", Sender())
