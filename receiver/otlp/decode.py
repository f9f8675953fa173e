"""OTLP request decoding: protobuf or JSON bytes to pdata, with Claude Code's encoding quirks tolerated.

Everything here is pure (bytes in, data out) so both the HTTP and the gRPC server share it.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable
from typing import Any, Literal

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import Gauge, Sum

from pdata import LogEvent, MetricPoint

Encoding = Literal["protobuf", "json"]


class DecodeFailure(ValueError):
    """The request body is not a valid OTLP message; the message says why, for the sender."""


# Arrays and key-value lists one attribute or log body may nest. Claude Code nests one or two; protobuf's own
# decoders stop at 100 nested messages (about 30 key-value lists), so 16 is refused alike on every encoding.
MAX_ANY_VALUE_DEPTH = 16
ANY_VALUE_TOO_DEEP = f"an attribute or body value is nested deeper than {MAX_ANY_VALUE_DEPTH} arrays or key-value lists"
# Both JSON decoders stop near 1000 levels (orjson at 1024, the standard library at the recursion limit).
JSON_TOO_DEEP = "JSON body is nested deeper than the decoder's limit of about 1000 levels"


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
            # upb says only that parsing failed; nesting past its limit of 100 messages is one cause.
            raise DecodeFailure(
                f"body is not a valid {message.DESCRIPTOR.name} protobuf (truncated, of another type, or nested "
                f"deeper than 100 messages): {exc}"
            ) from None
        return
    try:
        document = json.loads(body)
    except RecursionError:
        raise DecodeFailure(JSON_TOO_DEEP) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DecodeFailure(f"body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise DecodeFailure(f"JSON body must be an object, got {type(document).__name__}")
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


def attributes_to_dict(attributes: list[KeyValue] | Any) -> dict[str, str]:
    return {kv.key: any_value_to_str(kv.value) for kv in attributes}


def _point_problem(value: float, monotonic: bool, time_ns: int, start_ns: int) -> str | None:
    """Why a number point cannot be stored (it is then rejected as partial success), or None."""
    if not math.isfinite(value):
        return "value is not finite"
    if abs(value) > MAX_VALUE:
        return f"value {value:g} is out of range (over 2^53)"
    if monotonic and value < 0:
        return "negative value on a monotonic sum"
    if time_ns == 0:
        return "data point without timeUnixNano"
    if time_ns > MAX_TIME_NS or start_ns > MAX_TIME_NS:
        return "timeUnixNano or startTimeUnixNano after year 2262"
    return None


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
                data: Sum | Gauge
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
                    problem = _point_problem(value, monotonic, point.time_unix_nano, point.start_time_unix_nano)
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


# ---------------------------------------------------------------------------------------------- OTLP/JSON, direct
#
# OTLP/JSON straight to MetricPoint / LogEvent, without json_format.ParseDict (pure Python, ~13× slower than
# protobuf). The direct path is deliberately narrow: it accepts exactly the documents ParseDict accepts *and*
# that it fully understands, and produces the same rows as ParseDict → flatten. Anything else (a wrongly
# typed or shaped field, a null, proto field names, histograms, exemplars, bytes values, ...) raises _Slow and
# the request goes through the original path, which gives the same answer or the same DecodeFailure reason.


class _Slow(Exception):
    """The direct JSON path does not handle this document: use ParseDict (same result, or its reason)."""


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
    if they are a field we skip (a string, a count, an empty list), otherwise _Slow."""
    json_names, proto_names = _FIELDS[message]
    handled = _HANDLED[message]
    for key, value in node.items():
        if key in handled:
            continue
        if key in proto_names or key.startswith("[") or value is None:
            raise _Slow
        if key not in json_names:
            continue  # unknown: ParseDict(ignore_unknown_fields=True) skips it
        if key in ("schemaUrl", "description", "version"):
            if value.__class__ is not str:
                raise _Slow
        elif key in ("droppedAttributesCount", "flags"):
            if value.__class__ is not int or not 0 <= value <= _UINT32_MAX:
                raise _Slow
        elif key in ("metadata", "attributes"):
            _json_attributes(value)
        elif key == "severityNumber":
            if not (
                (value.__class__ is int and 0 <= value <= 24) or (value.__class__ is str and value in _SEVERITY_NAMES)
            ):
                raise _Slow
        elif key in ("traceId", "spanId"):
            if value.__class__ is not str:
                raise _Slow
            if value:
                try:
                    bytes.fromhex(value)
                except ValueError:
                    raise _Slow from None
        elif key in ("entityRefs", "exemplars"):
            if value != []:
                raise _Slow
        else:  # another kind of metric data (histogram, summary, ...) or a field added later
            raise _Slow


def _dict(value: Any, message: str) -> dict:
    if value.__class__ is not dict:
        raise _Slow
    if not value.keys() <= _HANDLED[message]:
        _extra_fields(value, message)
    return value


def _list_of(value: Any) -> list:
    if value.__class__ is not list:
        raise _Slow
    return value


def _int64(value: Any) -> int:
    if value.__class__ is int:
        number = value
    elif value.__class__ is str and value.isascii() and (value.isdigit() or (value[:1] == "-" and value[1:].isdigit())):
        number = int(value)
    else:
        raise _Slow
    if not _INT64_MIN <= number <= _INT64_MAX:
        raise _Slow
    return number


def _uint64(value: Any) -> int:
    if value.__class__ is int:
        number = value
    elif value.__class__ is str and value.isascii() and value.isdigit():
        number = int(value)
    else:
        raise _Slow
    if not 0 <= number <= _UINT64_MAX:
        raise _Slow
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
    raise _Slow


def _any_value(value: Any) -> tuple[str | None, Any]:
    """(kind, Python value) of an AnyValue object, kind None when unset."""
    if value.__class__ is not dict:
        raise _Slow
    if len(value) == 1:
        for kind, item in value.items():
            if item is None or kind[:1] == "[":
                raise _Slow
            return kind, item
    if any(key[:1] == "[" for key in value):
        raise _Slow
    kinds = [(key, item) for key, item in value.items() if key in _ANY_VALUE_KINDS or key in _ANY_VALUE_PROTO]
    if not kinds:
        return None, None
    if len(kinds) > 1 or kinds[0][1] is None:
        raise _Slow
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
        raise _Slow
    if kind == "intValue":
        return str(_int64(item))
    if kind == "boolValue":
        if item is True:
            return "true"
        if item is False:
            return "false"
        raise _Slow
    if kind == "doubleValue":
        return _format_double(_double(item))
    if kind == "arrayValue" or kind == "kvlistValue":
        return json.dumps(_json_plain(kind, item), separators=(",", ":"), sort_keys=True)
    if kind is None or (kind not in _ANY_VALUE_KINDS and kind not in _ANY_VALUE_PROTO):
        return ""  # unset, or only unknown keys (ignored)
    raise _Slow  # bytes, string table indexes, proto names


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
            raise DecodeFailure(ANY_VALUE_TOO_DEEP)  # what the original path answers too
        if item.__class__ is dict:
            values = item.get("values", [])
            if values is None or any(key[:1] == "[" for key in item):
                raise _Slow
            if kind == "arrayValue":
                return [_json_plain(*_any_value(element), depth + 1) for element in _list_of(values)]
            plain = {}
            for kv in _list_of(values):
                key, element = _json_key_value(kv)
                plain[key] = None if element is _UNSET else _json_plain(*_any_value(element), depth + 1)
            return plain
    elif kind is None or (kind not in _ANY_VALUE_KINDS and kind not in _ANY_VALUE_PROTO):
        return None
    raise _Slow


_UNSET = object()


def _json_key_value(kv: Any) -> tuple[str, Any]:
    """(key, AnyValue object or _UNSET) of a KeyValue object."""
    if kv.__class__ is not dict:
        raise _Slow
    key = kv.get("key", "")
    value = kv.get("value", _UNSET)
    if key.__class__ is not str or value is None:
        raise _Slow
    if len(kv) != 2 or value is _UNSET:
        for name in kv:
            if name not in ("key", "value") and (name in ("keyStrindex", "key_strindex") or name.startswith("[")):
                raise _Slow
    return key, value


def _json_attributes(items: Any) -> dict[str, str]:
    """attributes_to_dict of an OTLP/JSON KeyValue list."""
    if items.__class__ is not list:
        raise _Slow
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
    return attributes


def _json_document(body: bytes, container: str) -> list:
    try:
        document = _fast_loads(body)
    except Exception as exc:
        if "depth limit" in str(exc):  # json.loads would recurse until it hit the interpreter's limit
            raise DecodeFailure(JSON_TOO_DEEP) from None
        raise _Slow from None  # json.loads then says why (or accepts what orjson does not, e.g. a BOM)
    message = "ExportMetricsServiceRequest" if container == "resourceMetrics" else "ExportLogsServiceRequest"
    if container != "resourceLogs" and document.__class__ is dict and "resourceLogs" in document:
        raise _Slow  # the original path checks log record ids in any document
    return _list_of(_dict(document, message).get(container, []))


def _json_resource(node: dict, message: str) -> tuple[dict[str, str], dict]:
    resource = node.get("resource")
    if resource is None:
        if "resource" in node:
            raise _Slow
        return {}, node
    return _json_attributes(_dict(resource, "Resource").get("attributes", [])), node


def _json_scope_name(node: dict) -> str:
    scope = node.get("scope")
    if scope is None:
        if "scope" in node:
            raise _Slow
        return ""
    scope = _dict(scope, "InstrumentationScope")
    name = scope.get("name", "")
    if name.__class__ is not str:
        raise _Slow
    return name


def json_metrics(body: bytes) -> tuple[list[MetricPoint], int, str]:
    """flatten_metrics(parse_metrics_request(body, "json")), straight from the JSON; raises _Slow."""
    points: list[MetricPoint] = []
    rejected = 0
    reasons: list[str] = []
    append = points.append
    for resource_metrics in _json_document(body, "resourceMetrics"):
        resource, _ = _json_resource(_dict(resource_metrics, "ResourceMetrics"), "ResourceMetrics")
        for scope_metrics in _list_of(resource_metrics.get("scopeMetrics", [])):
            scope = _json_scope_name(_dict(scope_metrics, "ScopeMetrics"))
            for metric in _list_of(scope_metrics.get("metrics", [])):
                metric = _dict(metric, "Metric")
                name = metric.get("name", "")
                unit = metric.get("unit", "")
                if name.__class__ is not str or unit.__class__ is not str:
                    raise _Slow
                if "sum" in metric:
                    if "gauge" in metric:
                        raise _Slow  # two kinds of a oneof
                    data = _dict(metric["sum"], "Sum")
                    temporality = data.get("aggregationTemporality", 0)
                    if temporality.__class__ is str:
                        temporality = _TEMPORALITY_NAMES.get(temporality)
                    elif temporality.__class__ is not int:
                        raise _Slow
                    monotonic = data.get("isMonotonic", False)
                    if temporality not in (1, 2) or (monotonic is not True and monotonic is not False):
                        raise _Slow  # rejected as a whole: rare, let the original path count it
                elif "gauge" in metric:
                    data = _dict(metric["gauge"], "Gauge")
                    temporality = 0
                    monotonic = False
                else:
                    continue  # no data (other kinds went to _Slow in _dict)
                for point in _list_of(data.get("dataPoints", [])):
                    point = _dict(point, "NumberDataPoint")
                    attributes = _json_attributes(point.get("attributes", []))
                    start_ns = _uint64(point.get("startTimeUnixNano", 0))
                    time_ns = _uint64(point.get("timeUnixNano", 0))
                    if "asDouble" in point:
                        if "asInt" in point:
                            raise _Slow
                        value = _double(point["asDouble"])
                    elif "asInt" in point:
                        value = float(_int64(point["asInt"]))
                    else:
                        rejected += 1
                        reasons.append(f"metric {name!r}: data point without a value")
                        continue
                    problem = _point_problem(value, monotonic, time_ns, start_ns)
                    if problem:
                        rejected += 1
                        reasons.append(f"metric {name!r}: {problem}")
                        continue
                    append(MetricPoint(name, unit, temporality, monotonic, start_ns, time_ns, value, attributes,
                                       resource, scope))  # fmt: skip
    return points, rejected, _summarise(reasons)


def json_logs(body: bytes, received_ns: int) -> tuple[list[LogEvent], int, str]:
    """flatten_logs(parse_logs_request(body, "json"), received_ns), straight from the JSON; raises _Slow."""
    events: list[LogEvent] = []
    append = events.append
    for resource_logs in _json_document(body, "resourceLogs"):
        resource, _ = _json_resource(_dict(resource_logs, "ResourceLogs"), "ResourceLogs")
        for scope_logs in _list_of(resource_logs.get("scopeLogs", [])):
            scope = _json_scope_name(_dict(scope_logs, "ScopeLogs"))
            for record in _list_of(scope_logs.get("logRecords", [])):
                record = _dict(record, "LogRecord")
                attributes = _json_attributes(record.get("attributes", []))
                if "body" in record:
                    body_text = _json_any_str(record["body"])
                else:
                    body_text = ""
                event_name = record.get("eventName", "")
                severity = record.get("severityText", "")
                if event_name.__class__ is not str or severity.__class__ is not str:
                    raise _Slow
                name = attributes.get("event.name") or event_name or _name_from_body(body_text)
                time_ns = _uint64(record.get("timeUnixNano", 0))
                if not 0 < time_ns <= MAX_TIME_NS:
                    time_ns = _uint64(record.get("observedTimeUnixNano", 0))
                    if not 0 < time_ns <= MAX_TIME_NS:
                        time_ns = received_ns
                elif "observedTimeUnixNano" in record:
                    _uint64(record["observedTimeUnixNano"])
                append(LogEvent(int(time_ns), name, body_text, attributes, resource, scope, severity))
    return events, 0, ""


def decode_metrics(body: bytes, encoding: Encoding) -> tuple[list[MetricPoint], int, str]:
    """Points, rejected count and reason of an OTLP metrics request body (raises DecodeFailure)."""
    if encoding == "json":
        try:
            return json_metrics(body)
        except _Slow:
            pass
    return flatten_metrics(parse_metrics_request(body, encoding))


def decode_logs(body: bytes, encoding: Encoding, received_ns: int) -> tuple[list[LogEvent], int, str]:
    """Events, rejected count and reason of an OTLP logs request body (raises DecodeFailure)."""
    if encoding == "json":
        try:
            return json_logs(body, received_ns)
        except _Slow:
            pass
    return flatten_logs(parse_logs_request(body, encoding), received_ns)
