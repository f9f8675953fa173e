"""OTLP/JSON straight to pipeline data, without protobuf's ParseDict (pure Python, ~13× slower than protobuf).

The direct path is deliberately narrow: it accepts exactly the documents ParseDict accepts *and* that it fully
understands, and produces the same rows as the reference path (decoding.protobuf: ParseDict, then flatten).
Anything else (a wrongly typed or shaped field, a null, proto field names, histograms, exemplars, bytes values,
...) raises Declined and the request goes through the reference path, which gives the same answer or the same
DecodeFailure reason. tests/unit/test_fuzz_decoders.py checks that differentially on generated documents.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from pdata import LogEvent, MetricPoint
from receiver.otlp.decoding.checks import (
    ANY_VALUE_TOO_DEEP,
    JSON_TOO_DEEP,
    MAX_ANY_VALUE_DEPTH,
    MAX_TIME_NS,
    DecodeFailure,
    format_double,
    name_from_body,
    point_problem,
    summarise,
)
from receiver.otlp.decoding.items import ItemCheck, document_items
from receiver.otlp.decoding.repeats import RequestValues, values_for


class Declined(Exception):
    """The direct JSON path does not handle this document: use the reference path (same result, or its reason)."""


_fast_loads: Callable[[bytes], Any]
try:
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - orjson is a dependency; stay correct without it
    _fast_loads = json.loads

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_UINT64_MAX = 2**64 - 1
_UINT32_MAX = 2**32 - 1
_TEMPORALITY_NAMES = {
    "AGGREGATION_TEMPORALITY_UNSPECIFIED": 0,
    "AGGREGATION_TEMPORALITY_DELTA": 1,
    "AGGREGATION_TEMPORALITY_CUMULATIVE": 2,
}


def _severity_names() -> frozenset[str]:
    from opentelemetry.proto.logs.v1.logs_pb2 import SeverityNumber

    return frozenset(SeverityNumber.keys())


_SEVERITY_NAMES = _severity_names()


def _fields(message: Any) -> tuple[frozenset[str], frozenset[str]]:
    """(JSON names, proto names that differ from them) of a message: the latter go to ParseDict."""
    fields = message.DESCRIPTOR.fields
    json_names = frozenset(field.json_name for field in fields)
    return json_names, frozenset(field.name for field in fields) - json_names


def _message_fields() -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
    from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
    from opentelemetry.proto.metrics.v1.metrics_pb2 import (
        Gauge,
        Metric,
        NumberDataPoint,
        ResourceMetrics,
        ScopeMetrics,
        Sum,
    )
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource

    messages = {
        "ExportMetricsServiceRequest": ExportMetricsServiceRequest, "ExportLogsServiceRequest": ExportLogsServiceRequest,
        "ResourceMetrics": ResourceMetrics, "ScopeMetrics": ScopeMetrics, "Metric": Metric, "Sum": Sum,
        "Gauge": Gauge, "NumberDataPoint": NumberDataPoint, "ResourceLogs": ResourceLogs, "ScopeLogs": ScopeLogs,
        "LogRecord": LogRecord, "Resource": Resource, "InstrumentationScope": InstrumentationScope,
    }  # fmt: skip
    return {name: _fields(message) for name, message in messages.items()}


_FIELDS = _message_fields()
# The fields each message's direct decoder reads itself; other known fields are checked by _extra_fields.
_HANDLED = {
    "ExportMetricsServiceRequest": frozenset({"resourceMetrics"}),
    "ExportLogsServiceRequest": frozenset({"resourceLogs"}),
    "ResourceMetrics": frozenset({"resource", "scopeMetrics"}),
    "ScopeMetrics": frozenset({"scope", "metrics"}),
    "Metric": frozenset({"name", "unit", "sum", "gauge"}),
    "Sum": frozenset({"dataPoints", "aggregationTemporality", "isMonotonic"}),
    "Gauge": frozenset({"dataPoints"}),
    "NumberDataPoint": frozenset({"attributes", "startTimeUnixNano", "timeUnixNano", "asDouble", "asInt"}),
    "ResourceLogs": frozenset({"resource", "scopeLogs"}),
    "ScopeLogs": frozenset({"scope", "logRecords"}),
    "LogRecord": frozenset(
        {"timeUnixNano", "observedTimeUnixNano", "severityText", "body", "attributes", "eventName"}
    ),  # fmt: skip
    "Resource": frozenset({"attributes"}),
    "InstrumentationScope": frozenset({"name"}),
}


def _extra_fields(node: dict, message: str) -> None:
    """Check the keys of `node` its decoder does not read: ignored if unknown (as ParseDict does), validated
    if they are a field we skip (a string, a count, an empty list), otherwise Declined."""
    json_names, proto_names = _FIELDS[message]
    handled = _HANDLED[message]
    for key, value in node.items():
        if key in handled:
            continue
        if key in proto_names or key.startswith("[") or value is None:
            raise Declined
        if key not in json_names:
            continue  # unknown: ParseDict(ignore_unknown_fields=True) skips it
        if key in ("schemaUrl", "description", "version"):
            if value.__class__ is not str:
                raise Declined
        elif key in ("droppedAttributesCount", "flags"):
            if value.__class__ is not int or not 0 <= value <= _UINT32_MAX:
                raise Declined
        elif key in ("metadata", "attributes"):
            _json_attributes(value)
        elif key == "severityNumber":
            if not (
                (value.__class__ is int and 0 <= value <= 24) or (value.__class__ is str and value in _SEVERITY_NAMES)
            ):
                raise Declined
        elif key in ("traceId", "spanId"):
            if value.__class__ is not str:
                raise Declined
            if value:
                try:
                    bytes.fromhex(value)
                except ValueError:
                    raise Declined from None
        elif key in ("entityRefs", "exemplars"):
            if value != []:
                raise Declined
        else:  # another kind of metric data (histogram, summary, ...) or a field added later
            raise Declined


def _dict(value: Any, message: str) -> dict:
    if value.__class__ is not dict:
        raise Declined
    if not value.keys() <= _HANDLED[message]:
        _extra_fields(value, message)
    return value


def _list_of(value: Any) -> list:
    if value.__class__ is not list:
        raise Declined
    return value


def _int64(value: Any) -> int:
    if value.__class__ is int:
        number = value
    elif value.__class__ is str and value.isascii() and (value.isdigit() or (value[:1] == "-" and value[1:].isdigit())):
        number = int(value)
    else:
        raise Declined
    if not _INT64_MIN <= number <= _INT64_MAX:
        raise Declined
    return number


def _uint64(value: Any) -> int:
    if value.__class__ is int:
        number = value
    elif value.__class__ is str and value.isascii() and value.isdigit():
        number = int(value)
    else:
        raise Declined
    if not 0 <= number <= _UINT64_MAX:
        raise Declined
    return number


_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")


def _double(value: Any) -> float:
    if value.__class__ is float:
        if math.isfinite(value):
            return value
    elif value.__class__ is int:
        if _INT64_MIN <= value <= _UINT64_MAX:
            return float(value)
    elif value.__class__ is str and _PLAIN_NUMBER.fullmatch(value):
        # What ParseDict does with a number in a string (float(text)), for the plain spellings only.
        number = float(value)
        if math.isfinite(number):
            return number
    raise Declined


def _any_value(value: Any) -> tuple[str | None, Any]:
    """(kind, Python value) of an AnyValue object, kind None when unset."""
    if value.__class__ is not dict:
        raise Declined
    if len(value) == 1:
        for kind, item in value.items():
            if item is None or kind[:1] == "[":
                raise Declined
            return kind, item
    if any(key[:1] == "[" for key in value):
        raise Declined
    kinds = [(key, item) for key, item in value.items() if key in _ANY_VALUE_KINDS or key in _ANY_VALUE_PROTO]
    if not kinds:
        return None, None
    if len(kinds) > 1 or kinds[0][1] is None:
        raise Declined
    return kinds[0]


_ANY_VALUE_KINDS = frozenset({"stringValue", "boolValue", "intValue", "doubleValue", "arrayValue", "kvlistValue",
                              "bytesValue", "stringValueStrindex"})  # fmt: skip
_ANY_VALUE_PROTO = frozenset({"string_value", "bool_value", "int_value", "double_value", "array_value",
                              "kvlist_value", "bytes_value", "string_value_strindex"})  # fmt: skip


def _json_any_str(value: Any) -> str:
    """any_value_to_str of an OTLP/JSON AnyValue object."""
    kind, item = _any_value(value)
    if kind == "stringValue":
        if item.__class__ is str:
            return item
        raise Declined
    if kind == "intValue":
        return str(_int64(item))
    if kind == "boolValue":
        if item is True:
            return "true"
        if item is False:
            return "false"
        raise Declined
    if kind == "doubleValue":
        return format_double(_double(item))
    if kind == "arrayValue" or kind == "kvlistValue":
        return json.dumps(_json_plain(kind, item), separators=(",", ":"), sort_keys=True)
    if kind is None or (kind not in _ANY_VALUE_KINDS and kind not in _ANY_VALUE_PROTO):
        return ""  # unset, or only unknown keys (ignored)
    raise Declined  # bytes, string table indexes, proto names


def _json_plain(kind: str | None, item: Any, depth: int = 1) -> Any:
    """_any_value_to_plain of an OTLP/JSON AnyValue's (kind, value)."""
    if kind == "stringValue":
        if item.__class__ is str:
            return item
    elif kind == "intValue":
        return _int64(item)
    elif kind == "boolValue":
        if item is True or item is False:
            return item
    elif kind == "doubleValue":
        return _double(item)
    elif kind == "arrayValue" or kind == "kvlistValue":
        if depth > MAX_ANY_VALUE_DEPTH:
            raise DecodeFailure(ANY_VALUE_TOO_DEEP)  # what the reference path answers too
        if item.__class__ is dict:
            values = item.get("values", [])
            if values is None or any(key[:1] == "[" for key in item):
                raise Declined
            if kind == "arrayValue":
                return [_json_plain(*_any_value(element), depth + 1) for element in _list_of(values)]
            plain = {}
            for kv in _list_of(values):
                key, element = _json_key_value(kv)
                plain[key] = None if element is _UNSET else _json_plain(*_any_value(element), depth + 1)
            return plain
    elif kind is None or (kind not in _ANY_VALUE_KINDS and kind not in _ANY_VALUE_PROTO):
        return None
    raise Declined


_UNSET = object()


def _json_key_value(kv: Any) -> tuple[str, Any]:
    """(key, AnyValue object or _UNSET) of a KeyValue object."""
    if kv.__class__ is not dict:
        raise Declined
    key = kv.get("key", "")
    value = kv.get("value", _UNSET)
    if key.__class__ is not str or value is None:
        raise Declined
    if len(kv) != 2 or value is _UNSET:
        for name in kv:
            if name not in ("key", "value") and (name in ("keyStrindex", "key_strindex") or name.startswith("[")):
                raise Declined
    return key, value


def _json_attributes(items: Any, values: RequestValues | None = None) -> dict[str, str]:
    """attributes_to_dict of an OTLP/JSON KeyValue list (the request's shared dict of them, given `values`)."""
    if items.__class__ is not list:
        raise Declined
    attributes: dict[str, str] = {}
    for kv in items:
        if kv.__class__ is dict and len(kv) == 2:
            key = kv.get("key")
            value = kv.get("value")
            if key.__class__ is str and value.__class__ is dict:
                if len(value) == 1:
                    item = value.get("stringValue")
                    if item.__class__ is str:
                        attributes[key] = item
                        continue
                attributes[key] = _json_any_str(value)
                continue
        key, value = _json_key_value(kv)
        attributes[key] = "" if value is _UNSET else _json_any_str(value)
    return attributes if values is None else values.attributes(attributes.items())


def _json_document(body: bytes, container: str, check_items: ItemCheck | None) -> list:
    try:
        document = _fast_loads(body)
    except Exception as exc:
        if "depth limit" in str(exc):  # json.loads would recurse until it hit the interpreter's limit
            raise DecodeFailure(JSON_TOO_DEEP) from None
        raise Declined from None  # json.loads then says why (or accepts what orjson does not, e.g. a BOM)
    message = "ExportMetricsServiceRequest" if container == "resourceMetrics" else "ExportLogsServiceRequest"
    if container != "resourceLogs" and document.__class__ is dict and "resourceLogs" in document:
        raise Declined  # the reference path checks log record ids in any document
    resources = _list_of(_dict(document, message).get(container, []))
    if check_items is not None:
        # Counted as the reference path counts, so a request declined past here is charged the same there.
        check_items(document_items(document, message))
    return resources


def _json_resource(node: dict, values: RequestValues | None) -> dict[str, str]:
    resource = node.get("resource")
    if resource is None:
        if "resource" in node:
            raise Declined
        return {}
    return _json_attributes(_dict(resource, "Resource").get("attributes", []), values)


def _json_scope_name(node: dict) -> str:
    scope = node.get("scope")
    if scope is None:
        if "scope" in node:
            raise Declined
        return ""
    scope = _dict(scope, "InstrumentationScope")
    name = scope.get("name", "")
    if name.__class__ is not str:
        raise Declined
    return name


# Per signal: the request's list of resources, each resource's list of scopes, each scope's list of items, with
# the message names _dict checks their fields against.
_LAYOUT = {
    "metrics": ("resourceMetrics", "ResourceMetrics", "scopeMetrics", "ScopeMetrics", "metrics"),
    "logs": ("resourceLogs", "ResourceLogs", "scopeLogs", "ScopeLogs", "logRecords"),
}


def _scopes(
    body: bytes, signal: str, values: RequestValues | None, check_items: ItemCheck | None
) -> Iterator[tuple[dict[str, str], str, list]]:
    """(resource attributes, scope name, items) of each scope of the document, in document order."""
    resources_key, resource_message, scopes_key, scope_message, items_key = _LAYOUT[signal]
    for resource_node in _json_document(body, resources_key, check_items):
        resource = _json_resource(_dict(resource_node, resource_message), values)
        for scope_node in _list_of(resource_node.get(scopes_key, [])):
            scope = _json_scope_name(_dict(scope_node, scope_message))
            yield resource, scope, _list_of(scope_node.get(items_key, []))


def _number_data(metric: dict) -> tuple[dict, int, bool] | None:
    """(data, temporality, monotonic) of a sum or gauge, None for a metric without data."""
    if "sum" in metric:
        if "gauge" in metric:
            raise Declined  # two kinds of a oneof
        data = _dict(metric["sum"], "Sum")
        temporality = data.get("aggregationTemporality", 0)
        if temporality.__class__ is str:
            temporality = _TEMPORALITY_NAMES.get(temporality)
        elif temporality.__class__ is not int:
            raise Declined
        monotonic = data.get("isMonotonic", False)
        if temporality not in (1, 2) or (monotonic is not True and monotonic is not False):
            raise Declined  # rejected as a whole: rare, let the reference path count it
        return data, temporality, monotonic
    if "gauge" in metric:
        return _dict(metric["gauge"], "Gauge"), 0, False
    return None  # no data (other kinds went to Declined in _dict)


def json_metrics(body: bytes, check_items: ItemCheck | None = None) -> tuple[list[MetricPoint], int, str]:
    """flatten_metrics(parse_metrics_request(body, "json", check_items)), straight from the JSON; raises
    Declined."""
    points: list[MetricPoint] = []
    rejected = 0
    reasons: list[str] = []
    append = points.append
    values = values_for(body)
    number = values.number if values is not None else int
    for resource, scope, metrics in _scopes(body, "metrics", values, check_items):
        for metric in metrics:
            metric = _dict(metric, "Metric")
            name = metric.get("name", "")
            unit = metric.get("unit", "")
            if name.__class__ is not str or unit.__class__ is not str:
                raise Declined
            number_data = _number_data(metric)
            if number_data is None:
                continue
            data, temporality, monotonic = number_data
            for point in _list_of(data.get("dataPoints", [])):
                point = _dict(point, "NumberDataPoint")
                attributes = _json_attributes(point.get("attributes", []), values)
                start_ns = number(_uint64(point.get("startTimeUnixNano", 0)))
                time_ns = number(_uint64(point.get("timeUnixNano", 0)))
                if "asDouble" in point:
                    if "asInt" in point:
                        raise Declined
                    value = _double(point["asDouble"])
                elif "asInt" in point:
                    value = float(_int64(point["asInt"]))
                else:
                    rejected += 1
                    reasons.append(f"metric {name!r}: data point without a value")
                    continue
                problem = point_problem(value, monotonic, time_ns, start_ns)
                if problem:
                    rejected += 1
                    reasons.append(f"metric {name!r}: {problem}")
                    continue
                append(MetricPoint(name, unit, temporality, monotonic, start_ns, time_ns, value, attributes,
                                   resource, scope))  # fmt: skip
    return points, rejected, summarise(reasons)


def json_logs(body: bytes, received_ns: int, check_items: ItemCheck | None = None) -> tuple[list[LogEvent], int, str]:
    """flatten_logs(parse_logs_request(body, "json", check_items), received_ns), straight from the JSON; raises
    Declined."""
    events: list[LogEvent] = []
    append = events.append
    values = values_for(body)
    number = values.number if values is not None else int
    text = values.text if values is not None else str
    for resource, scope, records in _scopes(body, "logs", values, check_items):
        for record in records:
            record = _dict(record, "LogRecord")
            attributes = _json_attributes(record.get("attributes", []), values)
            if "body" in record:
                body_text = text(_json_any_str(record["body"]))
            else:
                body_text = ""
            event_name = record.get("eventName", "")
            severity = record.get("severityText", "")
            if event_name.__class__ is not str or severity.__class__ is not str:
                raise Declined
            name = attributes.get("event.name") or event_name or name_from_body(body_text)
            time_ns = _uint64(record.get("timeUnixNano", 0))
            if not 0 < time_ns <= MAX_TIME_NS:
                time_ns = _uint64(record.get("observedTimeUnixNano", 0))
                if not 0 < time_ns <= MAX_TIME_NS:
                    time_ns = received_ns
            elif "observedTimeUnixNano" in record:
                _uint64(record["observedTimeUnixNano"])
            append(LogEvent(number(time_ns), text(name), body_text, attributes, resource, scope, text(severity)))
    return events, 0, ""
