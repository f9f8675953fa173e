"""A known Claude Code workload, sent through real OTLP clients, with the figures it must produce.

Members (all in organization `org-acme`):
- alice@example.com (OAuth: user.email), session a1: three accepted Writes of 10, 5 and 1 lines and one
  rejected Edit; 0.5 USD on claude-opus-4-6; 2 commits and 1 pull request.
- user_01BOB (account id, no email), sessions b1 and b2: two accepted Edits adding 4 and removing 2 lines,
  one accepted MultiEdit adding 3, one rejected NotebookEdit; 0.25 USD on claude-sonnet-4-5.
- anonymous user.id c0ffee…, session c1: 0.125 USD; one accepted Bash decision (not a code-editing tool,
  so outside the acceptance rate).
- dave@example.com, session d1: events only (a user_prompt), which still makes him active.

Increments are split into three phases so that exporters send several exports, and so that a cumulative
sender can be restarted (new start time) between phases.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import httpx

ORG = "org-acme"
ALICE = {"user.id": "a" * 64, "user.email": "alice@example.com", "organization.id": ORG, "session.id": "sess-a1"}
BOB_1 = {"user.id": "b" * 64, "user.account_id": "user_01BOB", "organization.id": ORG, "session.id": "sess-b1"}
BOB_2 = {**BOB_1, "session.id": "sess-b2"}
CAROL = {"user.id": "c0ffee" + "0" * 58, "session.id": "sess-c1"}
DAVE = {"user.id": "d" * 64, "user.email": "dave@example.com", "organization.id": ORG, "session.id": "sess-d1"}

LINES = "claude_code.lines_of_code.count"
DECISION = "claude_code.code_edit_tool.decision"
COST = "claude_code.cost.usage"
TOKENS = "claude_code.token.usage"
SESSION = "claude_code.session.count"
COMMIT = "claude_code.commit.count"
PULL_REQUEST = "claude_code.pull_request.count"
ACTIVE_TIME = "claude_code.active_time.total"

UNITS = {COST: "USD", TOKENS: "tokens", ACTIVE_TIME: "s"}


@dataclass(frozen=True)
class Increment:
    metric: str
    attributes: dict[str, str]
    value: float


def _inc(metric: str, who: dict[str, str], value: float, **extra: str) -> Increment:
    return Increment(metric, {**who, **extra}, value)


PHASES: list[list[Increment]] = [
    [
        _inc(SESSION, ALICE, 1, start_type="fresh"),
        _inc(SESSION, BOB_1, 1, start_type="fresh"),
        _inc(DECISION, ALICE, 1, tool_name="Write", decision="accept", source="config", language="Python"),
        _inc(LINES, ALICE, 10, type="added", model="claude-opus-4-6"),
        _inc(DECISION, BOB_1, 1, tool_name="Edit", decision="accept", source="user_temporary", language="Go"),
        _inc(LINES, BOB_1, 2, type="added", model="claude-sonnet-4-5"),
        _inc(LINES, BOB_1, 1, type="removed", model="claude-sonnet-4-5"),
        _inc(COST, ALICE, 0.25, model="claude-opus-4-6", query_source="main"),
        _inc(TOKENS, ALICE, 1000, type="input", model="claude-opus-4-6", query_source="main"),
        _inc(TOKENS, ALICE, 200, type="output", model="claude-opus-4-6", query_source="main"),
        _inc(COST, BOB_1, 0.125, model="claude-sonnet-4-5", query_source="main"),
        _inc(ACTIVE_TIME, ALICE, 30, type="user"),
    ],
    [
        _inc(DECISION, ALICE, 1, tool_name="Write", decision="accept", source="config", language="Python"),
        _inc(LINES, ALICE, 5, type="added", model="claude-opus-4-6"),
        _inc(DECISION, ALICE, 1, tool_name="Edit", decision="reject", source="user_reject", language="Python"),
        _inc(DECISION, BOB_1, 1, tool_name="Edit", decision="accept", source="user_temporary", language="Go"),
        _inc(LINES, BOB_1, 2, type="added", model="claude-sonnet-4-5"),
        _inc(LINES, BOB_1, 1, type="removed", model="claude-sonnet-4-5"),
        _inc(COST, ALICE, 0.125, model="claude-opus-4-6", query_source="main"),
        _inc(TOKENS, ALICE, 500, type="input", model="claude-opus-4-6", query_source="main"),
        _inc(SESSION, CAROL, 1, start_type="fresh"),
        _inc(COST, CAROL, 0.125, model="claude-haiku-4-5", query_source="main"),
        _inc(DECISION, CAROL, 1, tool_name="Bash", decision="accept", source="config", language=""),
        _inc(COMMIT, ALICE, 2),
        _inc(ACTIVE_TIME, ALICE, 15, type="user"),
    ],
    [
        _inc(DECISION, ALICE, 1, tool_name="Write", decision="accept", source="config", language="Python"),
        _inc(LINES, ALICE, 1, type="added", model="claude-opus-4-6"),
        _inc(COST, ALICE, 0.125, model="claude-opus-4-6", query_source="main"),
        _inc(SESSION, BOB_2, 1, start_type="resume"),
        _inc(DECISION, BOB_2, 1, tool_name="MultiEdit", decision="accept", source="config", language="Go"),
        _inc(LINES, BOB_2, 3, type="added", model="claude-sonnet-4-5"),
        _inc(DECISION, BOB_2, 1, tool_name="NotebookEdit", decision="reject", source="user_reject", language="Python"),
        _inc(COST, BOB_2, 0.125, model="claude-sonnet-4-5", query_source="main"),
        _inc(PULL_REQUEST, ALICE, 1),
    ],
]

EVENTS: list[tuple[str, dict[str, Any]]] = [
    ("user_prompt", {**ALICE, "prompt_length": "42", "prompt": "<REDACTED>", "prompt.id": "p-a1"}),
    ("api_request", {**ALICE, "model": "claude-opus-4-6", "cost_usd": 0.25, "input_tokens": 1000, "output_tokens": 200,
                     "duration_ms": 1500, "prompt.id": "p-a1"}),
    ("tool_decision", {**ALICE, "tool_name": "Write", "decision": "accept", "source": "config", "prompt.id": "p-a1"}),
    ("tool_result", {**ALICE, "tool_name": "Write", "success": "true", "duration_ms": "14", "prompt.id": "p-a1"}),
    ("api_request", {**BOB_1, "model": "claude-sonnet-4-5", "cost_usd": 0.125, "duration_ms": 900}),
    ("user_prompt", {**DAVE, "prompt_length": "7", "prompt": "secret prompt text", "prompt.id": "p-d1"}),
]  # fmt: skip

EXPECTED_TOTALS = {
    "accepted_lines": 16 + 4 + 3,
    "removed_lines": 2,
    "accepts": 6,
    "rejects": 2,
    "acceptance_rate": 0.75,
    "spend_usd": 0.875,
}
# Dave is active through his event only; Carol's session counts, her Bash decision does not.
EXPECTED_WITH_EVENTS = {**EXPECTED_TOTALS, "active_users": 4, "sessions": 5}
EXPECTED_METRICS_ONLY = {**EXPECTED_TOTALS, "active_users": 3, "sessions": 4}
EXPECTED_BY_TOOL = {
    "Edit": {"accepts": 2, "rejects": 1, "acceptance_rate": 2 / 3},
    "MultiEdit": {"accepts": 1, "rejects": 0, "acceptance_rate": 1.0},
    "NotebookEdit": {"accepts": 0, "rejects": 1, "acceptance_rate": 0.0},
    "Write": {"accepts": 3, "rejects": 0, "acceptance_rate": 1.0},
}
# member -> (member_type, spend_usd, accepted_lines, sessions)
EXPECTED_TEAM = {
    "alice@example.com": ("email", 0.5, 16, 1),
    "user_01BOB": ("account", 0.25, 7, 2),
    "c0ffee" + "0" * 58: ("anonymous", 0.125, 0, 1),
}
EXPECTED_TEAM_WITH_EVENTS = {**EXPECTED_TEAM, "dave@example.com": ("email", 0.0, 0, 1)}


def assert_totals(totals: dict[str, Any], expected: dict[str, Any]) -> None:
    for key, value in expected.items():
        assert totals[key] == (round(value, 9) if isinstance(value, float) else value), (key, totals[key], value)


# --- senders -----------------------------------------------------------------------------------------------


def send(grpc_url: str, http_url: str, protocol: str, temporality: str) -> None:
    """The whole workload over `protocol`: `grpc` and `http/protobuf` through the SDK's exporters (to the
    collector's gRPC or HTTP URL), `http/json` as raw OTLP/JSON requests."""
    if protocol == "grpc":
        send_with_sdk("grpc", grpc_url, temporality)
    elif protocol == "http/protobuf":
        send_with_sdk("http/protobuf", http_url, temporality)
    else:
        send_json(http_url, temporality)


def send_with_sdk(
    protocol: str, endpoint: str, temporality: str, headers: dict[str, str] | None = None, with_events: bool = True
) -> None:
    """The OpenTelemetry Python SDK's own OTLP exporters (protocol `grpc` or `http/protobuf`).

    Cumulative: phases 1–2 go through one MeterProvider; phase 3 through a new one, as a restarted client
    would (new start time, counters from zero) — a counter reset mid-stream.
    """
    from opentelemetry.sdk.metrics import Counter, MeterProvider
    from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource

    chosen = AggregationTemporality.DELTA if temporality == "delta" else AggregationTemporality.CUMULATIVE
    resource = Resource.create({"service.name": "claude-code", "service.version": "2.1.331", "os.type": "linux"})

    def provider() -> MeterProvider:
        exporter = _metric_exporter(protocol, endpoint, headers, {Counter: chosen})
        reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
        return MeterProvider(resource=resource, metric_readers=[reader])

    current = provider()
    counters: dict[str, Any] = {}

    def record(increments: list[Increment]) -> None:
        meter = current.get_meter("com.anthropic.claude_code", "2.1.331")
        for increment in increments:
            key = (id(current), increment.metric)
            if key not in counters:
                counters[key] = meter.create_counter(increment.metric, unit=UNITS.get(increment.metric, ""))
            counters[key].add(increment.value, increment.attributes)
        assert current.force_flush(30_000), "metrics export did not complete"

    record(PHASES[0])
    record(PHASES[1])
    if temporality == "cumulative":
        current.shutdown()
        time.sleep(0.01)  # a restarted client's start time is later than the first one's
        current = provider()
    record(PHASES[2])
    current.shutdown()
    if with_events:
        _send_events_with_sdk(protocol, endpoint, headers, resource)


def _metric_exporter(protocol: str, endpoint: str, headers: dict[str, str] | None, temporality: dict):
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        target = endpoint.removeprefix("http://")
        return OTLPMetricExporter(endpoint=target, insecure=True, headers=headers, preferred_temporality=temporality)
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter(endpoint=f"{endpoint}/v1/metrics", headers=headers, preferred_temporality=temporality)


def _send_events_with_sdk(protocol: str, endpoint: str, headers: dict[str, str] | None, resource) -> None:
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor

    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

        exporter = OTLPLogExporter(endpoint=endpoint.removeprefix("http://"), insecure=True, headers=headers)
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

        exporter = OTLPLogExporter(endpoint=f"{endpoint}/v1/logs", headers=headers)
    provider = LoggerProvider(resource=resource)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("com.anthropic.claude_code.events", "2.1.331")
    for sequence, (name, attributes) in enumerate(EVENTS):
        logger.emit(
            timestamp=time.time_ns(),
            body=f"claude_code.{name}",
            attributes={**attributes, "event.name": name, "event.sequence": sequence},
        )
    provider.shutdown()


def send_json(endpoint: str, temporality: str, headers: dict[str, str] | None = None, with_events: bool = True) -> None:
    """An OTLP/JSON sender shaped like Claude Code's (intValue as a JSON number, asDouble values).

    Cumulative: running totals per series; phase 3 restarts (new startTimeUnixNano, totals from zero).
    """
    with httpx.Client(base_url=endpoint, headers={"content-type": "application/json", **(headers or {})}) as client:
        _send_json(client, temporality, with_events)


def _send_json(client: httpx.Client, temporality: str, with_events: bool) -> None:
    start_ns = time.time_ns()
    totals: dict[tuple, float] = defaultdict(float)
    for index, phase in enumerate(PHASES):
        if temporality == "cumulative" and index == 2:
            start_ns = time.time_ns()
            totals.clear()
        now_ns = time.time_ns()
        points: dict[str, list[dict]] = defaultdict(list)
        phase_values: dict[tuple, float] = defaultdict(float)
        for increment in phase:
            phase_values[(increment.metric, tuple(sorted(increment.attributes.items())))] += increment.value
        for key, value in phase_values.items():
            totals[key] += value
            reported = totals[key] if temporality == "cumulative" else value
            points[key[0]].append(
                {
                    "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in key[1]],
                    "startTimeUnixNano": str(start_ns if temporality == "cumulative" else now_ns - 1_000_000),
                    "timeUnixNano": str(now_ns),
                    "asDouble": reported,
                }
            )
        body = {
            "resourceMetrics": [
                {
                    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]},
                    "scopeMetrics": [
                        {
                            "scope": {"name": "com.anthropic.claude_code", "version": "2.1.331"},
                            "metrics": [
                                {
                                    "name": name,
                                    "unit": UNITS.get(name, ""),
                                    "sum": {
                                        "aggregationTemporality": 1 if temporality == "delta" else 2,
                                        "isMonotonic": True,
                                        "dataPoints": data_points,
                                    },
                                }
                                for name, data_points in points.items()
                            ],
                        }
                    ],
                }
            ]
        }
        response = client.post("/v1/metrics", content=json.dumps(body))
        assert response.status_code == 200, response.text
        time.sleep(0.002)  # the next export's timestamps are strictly later
    if with_events:
        response = client.post("/v1/logs", content=json.dumps(events_json()))
        assert response.status_code == 200, response.text


def _json_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": value}  # a JSON number, as Claude Code sends it
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": str(value)}


def events_json() -> dict[str, Any]:
    now_ns = time.time_ns()
    records = [
        {
            "timeUnixNano": str(now_ns + sequence),
            "body": {"stringValue": f"claude_code.{name}"},
            "attributes": [
                {"key": key, "value": _json_value(value)}
                for key, value in {**attributes, "event.name": name, "event.sequence": sequence}.items()
            ],
        }
        for sequence, (name, attributes) in enumerate(EVENTS)
    ]
    return {
        "resourceLogs": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]},
                "scopeLogs": [{"scope": {"name": "com.anthropic.claude_code.events"}, "logRecords": records}],
            }
        ]
    }
