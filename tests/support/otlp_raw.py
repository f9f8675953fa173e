"""Hand-built OTLP requests sent as raw bytes (HTTP protobuf/JSON, gzip, gRPC), and the figures to read back.

The retry, restart and bad-input tests need exact control over the bytes on the wire (the same body twice,
the same body gzipped, a truncated body), which the SDK exporters do not give; these helpers do.
"""

from __future__ import annotations

import gzip
import json
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import httpx
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from tests.support import workload
from tests.support.collector import CollectorProcess

DELTA = 1
CUMULATIVE = 2

LINES = "claude_code.lines_of_code.count"
DECISION = "claude_code.code_edit_tool.decision"
COST = "claude_code.cost.usage"
SESSION = "claude_code.session.count"

GRPC_METHODS = {
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
}
_REQUEST_TYPES = {"metrics": ExportMetricsServiceRequest, "logs": ExportLogsServiceRequest}
_RESPONSE_TYPES = {"metrics": ExportMetricsServiceResponse, "logs": ExportLogsServiceResponse}

# The figures of GET /api/v1/analytics totals that these tests assert.
FIGURES = ("accepted_lines", "removed_lines", "accepts", "rejects", "active_users", "sessions", "spend_usd")
ZERO = {"accepted_lines": 0, "removed_lines": 0, "accepts": 0, "rejects": 0, "active_users": 0, "sessions": 0,
        "spend_usd": 0}  # fmt: skip


def now_ns() -> int:
    return time.time_ns()


def who(org: str, name: str = "dev", session: str = "s1") -> dict[str, str]:
    """Identity attributes of an OAuth user of organization `org` (member = the email)."""
    return {
        "user.id": (name.encode().hex() * 64)[:64],
        "user.email": f"{name}@{org}.example",
        "organization.id": org,
        "session.id": f"{org}-{session}",
    }


def point(value: float, attributes: dict[str, str], time_ns: int, start_ns: int | None = None) -> dict[str, Any]:
    return {
        "attributes": [{"key": key, "value": {"stringValue": val}} for key, val in attributes.items()],
        "startTimeUnixNano": str(start_ns if start_ns is not None else time_ns - 1_000_000),
        "timeUnixNano": str(time_ns),
        "asDouble": value,
    }


def sum_metric(name: str, points: list[dict[str, Any]], temporality: int = DELTA, unit: str = "") -> dict[str, Any]:
    return {
        "name": name,
        "unit": unit,
        "sum": {"aggregationTemporality": temporality, "isMonotonic": True, "dataPoints": points},
    }


def metrics_request(metrics: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceMetrics": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]},
                "scopeMetrics": [{"scope": {"name": "com.anthropic.claude_code"}, "metrics": metrics}],
            }
        ]
    }


def delta_body(increments: list[tuple[str, str, float, dict[str, str]]]) -> bytes:
    """One OTLP/JSON metrics request of delta points, one per (metric, unit, value, attributes)."""
    now = now_ns()
    by_metric: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for metric, unit, value, attributes in increments:
        by_metric.setdefault((metric, unit), []).append(point(value, attributes, now))
    metrics = [sum_metric(name, points, DELTA, unit) for (name, unit), points in by_metric.items()]
    return to_json(metrics_request(metrics))


def edit_request(
    org: str,
    lines: float,
    cost: float = 0.0,
    time_ns: int | None = None,
    name: str = "dev",
    session: str = "s1",
    decision: str = "accept",
    tool: str = "Write",
) -> dict[str, Any]:
    """A delta metrics request: one `tool` decision, `lines` added lines, `cost` USD, one session start."""
    time_ns = time_ns or now_ns()
    ident = who(org, name, session)
    metrics = [
        sum_metric(SESSION, [point(1, {**ident, "start_type": "fresh"}, time_ns)]),
        sum_metric(DECISION, [point(1, {**ident, "tool_name": tool, "decision": decision, "source": "config"},
                                    time_ns)]),
    ]  # fmt: skip
    if lines:
        metrics.append(sum_metric(LINES, [point(lines, {**ident, "type": "added"}, time_ns)]))
    if cost:
        metrics.append(sum_metric(COST, [point(cost, {**ident, "model": "claude-opus-4-6"}, time_ns)], unit="USD"))
    return metrics_request(metrics)


def edit_figures(
    lines: float, cost: float = 0.0, accepts: int = 1, rejects: int = 0, users: int = 1, sessions: int = 1
) -> dict[str, Any]:
    return {**ZERO, "accepted_lines": lines, "accepts": accepts, "rejects": rejects, "active_users": users,
            "sessions": sessions, "spend_usd": cost}  # fmt: skip


def cumulative_lines_request(org: str, total: float, time_ns: int, start_ns: int) -> dict[str, Any]:
    """One cumulative point of the added-lines series of `org`'s member: its running total `total`."""
    return metrics_request(
        [sum_metric(LINES, [point(total, {**who(org), "type": "added"}, time_ns, start_ns)], CUMULATIVE)]
    )


def logs_request(org: str, names: list[str], name: str = "dev", session: str = "s1") -> dict[str, Any]:
    base = now_ns()
    records = [
        {
            "timeUnixNano": str(base + index),
            "body": {"stringValue": f"claude_code.{event}"},
            "attributes": [
                {"key": key, "value": {"stringValue": value}}
                for key, value in {**who(org, name, session), "event.name": event}.items()
            ]
            + [{"key": "event.sequence", "value": {"intValue": index}}],
        }
        for index, event in enumerate(names)
    ]
    return {
        "resourceLogs": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]},
                "scopeLogs": [{"scope": {"name": "com.anthropic.claude_code.events"}, "logRecords": records}],
            }
        ]
    }


# --- encodings ----------------------------------------------------------------------------------------------


def to_json(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def to_protobuf(document: dict[str, Any], signal: str = "metrics") -> bytes:
    message = _REQUEST_TYPES[signal]()
    json_format.ParseDict(document, message)
    return message.SerializeToString()


def deeply_nested(document: dict[str, Any], depth: int, kind: str = "array") -> bytes:
    """`document` (a metrics request) as protobuf, its first point given the attribute `deep`: a string inside
    `depth` arrays (or, with kind "kvlist", key-value lists), which JSON cannot carry past its own limits."""
    message = ExportMetricsServiceRequest()
    json_format.ParseDict(document, message)
    value = AnyValue(string_value="x")
    for _ in range(depth):
        outer = AnyValue()
        if kind == "kvlist":
            entry = outer.kvlist_value.values.add()
            entry.key = "k"
            entry.value.CopyFrom(value)
        else:
            outer.array_value.values.add().CopyFrom(value)
        value = outer
    attribute = message.resource_metrics[0].scope_metrics[0].metrics[0].sum.data_points[0].attributes.add()
    attribute.key = "deep"
    attribute.value.CopyFrom(value)
    return message.SerializeToString()


def gzipped(body: bytes, level: int = 9) -> bytes:
    return gzip.compress(body, compresslevel=level, mtime=0)


# --- transports ---------------------------------------------------------------------------------------------

CONTENT_TYPES = {"protobuf": "application/x-protobuf", "json": "application/json"}


def post(
    collector: CollectorProcess,
    signal: str,
    body: bytes,
    content_type: str = "application/x-protobuf",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST raw bytes to /v1/<signal> (headers may add Content-Encoding, Authorization)."""
    return httpx.post(
        f"{collector.otlp_http_url}/v1/{signal}",
        content=body,
        headers={"content-type": content_type, **(headers or {})},
        timeout=30,
    )


def http_request(body: bytes, headers: dict[str, str] | None = None) -> bytes:
    """The bytes of an HTTP/1.1 POST of `body` to /v1/metrics (protobuf), for a raw socket."""
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    return (
        b"POST /v1/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\n"
        + f"{extra}Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


def exchange(sock: socket.socket, body: bytes, headers: dict[str, str] | None = None, timeout_s: float = 30) -> bytes:
    """POST `body` to /v1/metrics (protobuf) on an open keep-alive connection and read its whole answer (head and
    Content-Length body), leaving the connection as the collector left it. Raises ConnectionError when the
    connection was closed under the request."""
    sock.settimeout(timeout_s)
    sock.sendall(http_request(body, headers))
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before a whole answer; received {answer[:200]!r}")
        answer += chunk
    head, _, rest = answer.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
        0,
    )
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed in the middle of an answer")
        rest += chunk
    return head + b"\r\n\r\n" + rest


def kept_alive_ok(answer: bytes) -> bool:
    """An answer from `exchange` is 200 and leaves its connection open (no Connection: close)."""
    head = answer.partition(b"\r\n\r\n")[0].lower()
    return head.startswith(b"http/1.1 200 ") and b"connection: close" not in head


def grpc_export(
    collector: CollectorProcess,
    signal: str,
    body: bytes,
    metadata: list[tuple[str, str]] | None = None,
    gzip_compressed: bool = False,
) -> bytes:
    """A raw-bytes unary call on the OTLP Export method of `signal`; raises grpc.RpcError when refused."""
    compression = grpc.Compression.Gzip if gzip_compressed else grpc.Compression.NoCompression
    with grpc.insecure_channel(collector.grpc_target) as channel:
        call = channel.unary_unary(GRPC_METHODS[signal], request_serializer=None, response_deserializer=None)
        return call(body, metadata=metadata or None, timeout=30, compression=compression)


def send(
    collector: CollectorProcess,
    protocol: str,
    document: dict[str, Any],
    signal: str = "metrics",
    headers: dict[str, str] | None = None,
) -> None:
    """Send `document` over `protocol` (http/protobuf, http/json, grpc) and require a full success."""
    if protocol == "grpc":
        metadata = [(key.lower(), value) for key, value in (headers or {}).items()]
        answer = _RESPONSE_TYPES[signal].FromString(grpc_export(collector, signal, to_protobuf(document, signal),
                                                                metadata))  # fmt: skip
        assert not answer.HasField("partial_success"), answer
        return
    if protocol == "http/json":
        response = post(collector, signal, to_json(document), CONTENT_TYPES["json"], headers)
    else:
        response = post(collector, signal, to_protobuf(document, signal), CONTENT_TYPES["protobuf"], headers)
    assert response.status_code == 200, (response.status_code, response.content)


# --- figures ------------------------------------------------------------------------------------------------


def day_range() -> tuple[str, str]:
    today = datetime.now(UTC).date()
    return str(today - timedelta(days=1)), str(today)


def figures(collector: CollectorProcess, org: str) -> dict[str, Any]:
    """The analytics totals of `org` over yesterday and today (UTC), restricted to FIGURES."""
    start, end = day_range()
    totals = collector.analytics(start, end, org=org)["totals"]
    return {key: totals[key] for key in FIGURES}


def workload_figures(collector: CollectorProcess) -> tuple[dict[str, Any], Any, dict[str, Any]]:
    """What the API says of everything stored, as the known workload's expected figures are spelt
    (EXPECTED_WORKLOAD): the totals, acceptance by tool, and the team view's members."""
    start, end = day_range()
    report = collector.analytics(start, end)
    totals = {key: report["totals"][key] for key in workload.EXPECTED_WITH_EVENTS}
    members = {
        row["member"]: (row["member_type"], row["spend_usd"], row["accepted_lines"], row["sessions"])
        for row in collector.team(end[:7])["members"]
    }
    return totals, report["acceptance_by_tool"], members


EXPECTED_WORKLOAD = (
    {
        key: round(value, 9) if isinstance(value, float) else value
        for key, value in workload.EXPECTED_WITH_EVENTS.items()
    },
    workload.EXPECTED_BY_TOOL,
    workload.EXPECTED_TEAM_WITH_EVENTS,
)
