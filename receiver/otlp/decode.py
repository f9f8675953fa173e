"""OTLP request decoding: protobuf or JSON bytes to pdata, with Claude Code's encoding quirks tolerated.

Everything here is pure (bytes in, data out) so both the HTTP and the gRPC server share it.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any, Literal

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from pdata import LogEvent, MetricPoint

Encoding = Literal["protobuf", "json"]


class DecodeFailure(ValueError):
    """The request body is not a valid OTLP message; the message says why, for the sender."""


def parse_metrics_request(body: bytes, encoding: Encoding) -> ExportMetricsServiceRequest:
    message = ExportMetricsServiceRequest()
    parse_into(body, encoding, message)
    return message


def parse_logs_request(body: bytes, encoding: Encoding) -> ExportLogsServiceRequest:
    message = ExportLogsServiceRequest()
    parse_into(body, encoding, message)
    return message


def parse_into(body: bytes, encoding: Encoding, message: Any) -> None:
    if encoding == "protobuf":
        try:
            message.ParseFromString(body)
        except DecodeError as exc:
            raise DecodeFailure(f"body is not a valid {message.DESCRIPTOR.name} protobuf: {exc}") from None
        return
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DecodeFailure(f"body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise DecodeFailure(f"JSON body must be an object, got {type(document).__name__}")
    _hex_ids_to_base64(document)
    try:
        json_format.ParseDict(document, message, ignore_unknown_fields=True)
    except (json_format.ParseError, TypeError, ValueError) as exc:
        raise DecodeFailure(f"body is not a valid OTLP/JSON {message.DESCRIPTOR.name}: {exc}") from None


_ID_FIELDS = ("traceId", "spanId", "trace_id", "span_id")


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    """OTLP/JSON writes trace and span ids as hex, proto3 JSON expects base64: convert in place."""
    # Wrongly shaped documents are left as they are, for ParseDict to refuse with its reason.
    for resource_logs in _list(document.get("resourceLogs")):
        if not isinstance(resource_logs, dict):
            continue
        for scope_logs in _list(resource_logs.get("scopeLogs")):
            if not isinstance(scope_logs, dict):
                continue
            for record in _list(scope_logs.get("logRecords")):
                if not isinstance(record, dict):
                    continue
                for key in _ID_FIELDS:
                    value = record.get(key)
                    if isinstance(value, str) and value:
                        try:
                            record[key] = base64.b64encode(bytes.fromhex(value)).decode()
                        except ValueError:
                            raise DecodeFailure(f"logRecord.{key} is not hex: {value[:40]!r}") from None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# The store keeps times as DateTime64(9): signed 64-bit nanoseconds, so up to 2262-04-11.
MAX_TIME_NS = 2**63 - 1
# Past 2^53 a double no longer counts in units, and sums of such values overflow to infinity, which no
# JSON figure can carry: no Claude Code counter comes near it.
MAX_VALUE = float(2**53)


def any_value_to_str(value: AnyValue) -> str:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return _format_double(value.double_value)
    if kind is None:
        return ""
    return json.dumps(_any_value_to_plain(value), separators=(",", ":"), sort_keys=True)


def _format_double(number: float) -> str:
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(number)


def _any_value_to_plain(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_any_value_to_plain(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _any_value_to_plain(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return binascii.hexlify(value.bytes_value).decode()
    if kind is None:
        return None
    return getattr(value, kind)


def attributes_to_dict(attributes: list[KeyValue] | Any) -> dict[str, str]:
    return {kv.key: any_value_to_str(kv.value) for kv in attributes}


def flatten_metrics(request: ExportMetricsServiceRequest) -> tuple[list[MetricPoint], int, str]:
    """Number points of sums and gauges; other kinds and malformed points are counted as rejected."""
    points: list[MetricPoint] = []
    rejected = 0
    reasons: list[str] = []
    for resource_metrics in request.resource_metrics:
        resource = attributes_to_dict(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope.name
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                if kind == "sum":
                    data = metric.sum
                    temporality = int(data.aggregation_temporality)
                    monotonic = bool(data.is_monotonic)
                elif kind == "gauge":
                    data = metric.gauge
                    temporality = 0
                    monotonic = False
                else:
                    count = len(getattr(metric, kind).data_points) if kind else 0
                    if count:
                        rejected += count
                        reasons.append(f"metric {metric.name!r}: {kind} points are not supported")
                    continue
                if kind == "sum" and temporality not in (1, 2):
                    rejected += len(data.data_points)
                    reasons.append(f"metric {metric.name!r}: aggregationTemporality must be DELTA or CUMULATIVE")
                    continue
                for point in data.data_points:
                    value_kind = point.WhichOneof("value")
                    if value_kind == "as_double":
                        value = point.as_double
                    elif value_kind == "as_int":
                        value = float(point.as_int)
                    else:
                        rejected += 1
                        reasons.append(f"metric {metric.name!r}: data point without a value")
                        continue
                    if not math.isfinite(value):
                        rejected += 1
                        reasons.append(f"metric {metric.name!r}: value is not finite")
                        continue
                    if abs(value) > MAX_VALUE:
                        rejected += 1
                        reasons.append(f"metric {metric.name!r}: value {value:g} is out of range (over 2^53)")
                        continue
                    if monotonic and value < 0:
                        rejected += 1
                        reasons.append(f"metric {metric.name!r}: negative value on a monotonic sum")
                        continue
                    if point.time_unix_nano == 0:
                        rejected += 1
                        reasons.append(f"metric {metric.name!r}: data point without timeUnixNano")
                        continue
                    if point.time_unix_nano > MAX_TIME_NS or point.start_time_unix_nano > MAX_TIME_NS:
                        rejected += 1
                        reasons.append(f"metric {metric.name!r}: timeUnixNano or startTimeUnixNano after year 2262")
                        continue
                    points.append(
                        MetricPoint(
                            metric=metric.name,
                            unit=metric.unit,
                            temporality=temporality,
                            monotonic=monotonic,
                            start_ns=int(point.start_time_unix_nano),
                            time_ns=int(point.time_unix_nano),
                            value=value,
                            attributes=attributes_to_dict(point.attributes),
                            resource=resource,
                            scope=scope,
                        )
                    )
    return points, rejected, _summarise(reasons)


def flatten_logs(request: ExportLogsServiceRequest, received_ns: int) -> tuple[list[LogEvent], int, str]:
    events: list[LogEvent] = []
    for resource_logs in request.resource_logs:
        resource = attributes_to_dict(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            scope = scope_logs.scope.name
            for record in scope_logs.log_records:
                attributes = attributes_to_dict(record.attributes)
                body = any_value_to_str(record.body) if record.HasField("body") else ""
                name = attributes.get("event.name") or record.event_name or _name_from_body(body)
                # An unset or unstorable time falls back to the observed time, then to the arrival time.
                time_ns = next(
                    (t for t in (record.time_unix_nano, record.observed_time_unix_nano) if 0 < t <= MAX_TIME_NS),
                    received_ns,
                )
                events.append(
                    LogEvent(
                        time_ns=int(time_ns),
                        name=name,
                        body=body,
                        attributes=attributes,
                        resource=resource,
                        scope=scope,
                        severity=record.severity_text,
                    )
                )
    return events, 0, ""


def _name_from_body(body: str) -> str:
    # Claude Code puts "claude_code.<event>" in the body; older senders only there.
    if body.startswith("claude_code.") and " " not in body:
        return body.removeprefix("claude_code.")
    return ""


def _summarise(reasons: list[str]) -> str:
    if not reasons:
        return ""
    unique = list(dict.fromkeys(reasons))
    text = "; ".join(unique[:5])
    if len(unique) > 5:
        text += f"; and {len(unique) - 5} more kinds"
    return text
