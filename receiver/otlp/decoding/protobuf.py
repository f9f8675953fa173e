"""The reference OTLP decoder: protobuf bytes, or OTLP/JSON through protobuf's ParseDict, into a request
message, then flattened to pipeline data. Every request the direct JSON path declines is decoded here.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import Gauge, Sum

from pdata import LogEvent, MetricPoint
from receiver.otlp.decoding.checks import (
    ANY_VALUE_TOO_DEEP,
    JSON_TOO_DEEP,
    MAX_ANY_VALUE_DEPTH,
    MAX_TIME_NS,
    DecodeFailure,
    Encoding,
    format_double,
    name_from_body,
    point_problem,
    summarise,
)
from receiver.otlp.decoding.items import ItemCheck, document_items, message_items
from receiver.otlp.decoding.repeats import RequestValues


def parse_metrics_request(
    body: bytes, encoding: Encoding, check_items: ItemCheck | None = None
) -> ExportMetricsServiceRequest:
    message = ExportMetricsServiceRequest()
    parse_into(body, encoding, message, check_items)
    return message


def parse_logs_request(
    body: bytes, encoding: Encoding, check_items: ItemCheck | None = None
) -> ExportLogsServiceRequest:
    message = ExportLogsServiceRequest()
    parse_into(body, encoding, message, check_items)
    return message


def parse_into(body: bytes, encoding: Encoding, message: Any, check_items: ItemCheck | None = None) -> None:
    """Parse `body` into `message`; `check_items` is given the request's item count once it is known (on the
    message, or on the JSON document before ParseDict builds the message from it) and may refuse it."""
    if encoding == "protobuf":
        try:
            message.ParseFromString(body)
        except DecodeError as exc:
            # upb says only that parsing failed; nesting past its limit of 100 messages is one cause.
            raise DecodeFailure(
                f"body is not a valid {message.DESCRIPTOR.name} protobuf (truncated, of another type, or nested "
                f"deeper than 100 messages): {exc}"
            ) from None
        if check_items is not None:
            check_items(message_items(message))
        return
    try:
        document = json.loads(body)
    except RecursionError:
        raise DecodeFailure(JSON_TOO_DEEP) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DecodeFailure(f"body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise DecodeFailure(f"JSON body must be an object, got {type(document).__name__}")
    if check_items is not None:
        check_items(document_items(document, message.DESCRIPTOR.name))
    _hex_ids_to_base64(document)
    try:
        json_format.ParseDict(document, message, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        if "Message too deep" in str(exc):  # the only recursive OTLP message is AnyValue
            raise DecodeFailure(ANY_VALUE_TOO_DEEP) from None
        raise DecodeFailure(f"body is not a valid OTLP/JSON {message.DESCRIPTOR.name}: {exc}") from None
    except (TypeError, ValueError) as exc:
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


def any_value_to_str(value: AnyValue) -> str:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return format_double(value.double_value)
    if kind is None:
        return ""
    return json.dumps(_any_value_to_plain(value), separators=(",", ":"), sort_keys=True)


def _any_value_to_plain(value: AnyValue, depth: int = 1) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value" or kind == "kvlist_value":
        if depth > MAX_ANY_VALUE_DEPTH:
            raise DecodeFailure(ANY_VALUE_TOO_DEEP)
        if kind == "array_value":
            return [_any_value_to_plain(item, depth + 1) for item in value.array_value.values]
        return {kv.key: _any_value_to_plain(kv.value, depth + 1) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return binascii.hexlify(value.bytes_value).decode()
    if kind is None:
        return None
    return getattr(value, kind)


def attributes_to_dict(attributes: list[KeyValue] | Any, values: RequestValues | None = None) -> dict[str, str]:
    if values is None:
        return {kv.key: any_value_to_str(kv.value) for kv in attributes}
    return values.attributes([(kv.key, any_value_to_str(kv.value)) for kv in attributes])


def _scopes(
    resources: Iterable[Any], scopes_field: str, items_field: str, values: RequestValues | None
) -> Iterator[tuple[dict[str, str], str, Any]]:
    """(resource attributes, scope name, items) of each scope of a request's resources, in order."""
    for resource_node in resources:
        resource = attributes_to_dict(resource_node.resource.attributes, values)
        for scope_node in getattr(resource_node, scopes_field):
            yield resource, scope_node.scope.name, getattr(scope_node, items_field)


def flatten_metrics(
    request: ExportMetricsServiceRequest, values: RequestValues | None = None
) -> tuple[list[MetricPoint], int, str]:
    """Number points of sums and gauges; other kinds and malformed points are counted as rejected. Given
    `values`, repeated values are held once (decoding.repeats)."""
    points: list[MetricPoint] = []
    rejected = 0
    reasons: list[str] = []
    number = values.number if values is not None else int
    for resource, scope, metrics in _scopes(request.resource_metrics, "scope_metrics", "metrics", values):
        for metric in metrics:
            kind = metric.WhichOneof("data")
            data: Sum | Gauge
            if kind == "sum":
                data = metric.sum
                temporality = int(metric.sum.aggregation_temporality)
                monotonic = bool(metric.sum.is_monotonic)
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
                problem = point_problem(value, monotonic, point.time_unix_nano, point.start_time_unix_nano)
                if problem:
                    rejected += 1
                    reasons.append(f"metric {metric.name!r}: {problem}")
                    continue
                points.append(
                    MetricPoint(
                        metric=metric.name,
                        unit=metric.unit,
                        temporality=temporality,
                        monotonic=monotonic,
                        start_ns=number(point.start_time_unix_nano),
                        time_ns=number(point.time_unix_nano),
                        value=value,
                        attributes=attributes_to_dict(point.attributes, values),
                        resource=resource,
                        scope=scope,
                    )
                )
    return points, rejected, summarise(reasons)


def flatten_logs(
    request: ExportLogsServiceRequest, received_ns: int, values: RequestValues | None = None
) -> tuple[list[LogEvent], int, str]:
    events: list[LogEvent] = []
    number = values.number if values is not None else int
    text = values.text if values is not None else str
    for resource, scope, records in _scopes(request.resource_logs, "scope_logs", "log_records", values):
        for record in records:
            attributes = attributes_to_dict(record.attributes, values)
            body = text(any_value_to_str(record.body)) if record.HasField("body") else ""
            name = attributes.get("event.name") or record.event_name or name_from_body(body)
            # An unset or unstorable time falls back to the observed time, then to the arrival time.
            time_ns = next(
                (t for t in (record.time_unix_nano, record.observed_time_unix_nano) if 0 < t <= MAX_TIME_NS),
                received_ns,
            )
            events.append(
                LogEvent(
                    time_ns=number(time_ns),
                    name=text(name),
                    body=body,
                    attributes=attributes,
                    resource=resource,
                    scope=scope,
                    severity=text(record.severity_text),
                )
            )
    return events, 0, ""
