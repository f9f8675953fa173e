"""Inputs for fuzzing the OTLP receiver with hypothesis: the real Claude Code requests of tests/fixtures and
../shared/fixtures, mutated (protobuf bytes flipped, inserted, deleted, duplicated and cut; protobuf fields set
to edge values; one JSON node replaced), and OTLP/JSON documents generated field by field (right shapes with
wrong values, wrong shapes, nulls, huge and non-finite numbers, hex ids, deep AnyValues).

Every strategy draws (signal, body bytes); `fuzz(n)` is the settings of a test of n cases (times
CC_ANALYTICS_FUZZ_SCALE; CC_ANALYTICS_FUZZ_RANDOM=1 draws new cases instead of CI's fixed ones).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from receiver.otlp import decode as decoder

REPO = Path(__file__).resolve().parents[2]
FIXTURE_DIRS = [REPO / "tests" / "fixtures", REPO.parent / "shared" / "fixtures"]
SCALE = max(1, int(os.environ.get("CC_ANALYTICS_FUZZ_SCALE", "1")))
_REQUEST_TYPES = {"metrics": ExportMetricsServiceRequest, "logs": ExportLogsServiceRequest}


def fuzz(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples * SCALE,
        deadline=None,
        database=None,
        # The same cases on every CI run; CC_ANALYTICS_FUZZ_RANDOM=1 (with a larger scale) explores new ones.
        derandomize=os.environ.get("CC_ANALYTICS_FUZZ_RANDOM") != "1",
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def _fixture_bodies() -> list[tuple[str, bytes, str]]:
    """(signal, body, encoding): every captured request as protobuf, and as the JSON the CLI sent or its
    protobuf's JSON form."""
    bodies = []
    for folder in FIXTURE_DIRS:
        for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
            for line in path.read_text().splitlines():
                if not line.strip():
                    continue
                record = json.loads(line)
                signal = record["path"].rsplit("/", 1)[-1]
                message = _REQUEST_TYPES[signal]()
                if "raw_json" in record:
                    raw = record["raw_json"]
                    text = raw if isinstance(raw, str) else json.dumps(raw)
                    bodies.append((signal, text.encode(), "json"))
                    decoder.parse_into(text.encode(), "json", message)
                else:
                    json_format.ParseDict(record["body"], message)
                    bodies.append((signal, json.dumps(record["body"]).encode(), "json"))
                bodies.append((signal, message.SerializeToString(), "protobuf"))
    return bodies


FIXTURES = _fixture_bodies()
PROTOBUF_FIXTURES = [item for item in FIXTURES if item[2] == "protobuf"]
JSON_FIXTURES = [item for item in FIXTURES if item[2] == "json"]


# --- protobuf: byte mutations of real requests ------------------------------------------------------------


@st.composite
def mutated_protobuf(draw: st.DrawFn) -> tuple[str, bytes]:
    signal, body, _ = draw(st.sampled_from(PROTOBUF_FIXTURES))
    data = bytearray(body)
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        kind = draw(st.sampled_from(["flip", "set", "insert", "delete", "duplicate", "truncate", "varint"]))
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set":
            data[at] = draw(st.sampled_from([0x00, 0x01, 0x08, 0x0A, 0x10, 0x12, 0x7F, 0x80, 0xFF]))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif kind == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, 64))]
        elif kind == "truncate":
            del data[at:]
        else:  # a length or varint field set to something large
            data[at : at + 1] = bytes([0xFF, 0xFF, 0xFF, 0xFF, 0x0F])
    return signal, bytes(data)


# --- protobuf: real requests with fields set to edge values ---------------------------------------------------


_EDGE_VALUES = {
    FieldDescriptor.CPPTYPE_DOUBLE: [math.nan, math.inf, -math.inf, -0.0, -1.0, 1e308, 2.0**53 + 1, 5e-324],
    FieldDescriptor.CPPTYPE_FLOAT: [math.nan, math.inf, -1.0],
    FieldDescriptor.CPPTYPE_INT64: [0, -1, -(2**63), 2**63 - 1],
    FieldDescriptor.CPPTYPE_UINT64: [0, 1, 2**63 - 1, 2**63, 2**64 - 1],
    FieldDescriptor.CPPTYPE_INT32: [0, -1, 2**31 - 1, 99],
    FieldDescriptor.CPPTYPE_UINT32: [0, 2**32 - 1],
    FieldDescriptor.CPPTYPE_BOOL: [True, False],
    FieldDescriptor.CPPTYPE_ENUM: [0, 1, 2, 3, 77],
    FieldDescriptor.CPPTYPE_STRING: ["", "\x00", "é" * 300, "claude_code.cost.usage", "claude_code.api_request",
                                     "user.email", "ğ\u202e", "1e400"],
}  # fmt: skip


def _fields_of(message: Any) -> list[tuple[Any, Any]]:
    """(message, field descriptor) of every field, set or not, in the message tree."""
    found = []
    for field in message.DESCRIPTOR.fields:
        found.append((message, field))
        if field.cpp_type != FieldDescriptor.CPPTYPE_MESSAGE:
            continue
        if field.is_repeated:
            for item in getattr(message, field.name):
                found += _fields_of(item)
        elif message.HasField(field.name):
            found += _fields_of(getattr(message, field.name))
    return found


@st.composite
def edited_protobuf(draw: st.DrawFn) -> tuple[str, bytes]:
    """A real request with fields set to edge values (NaN, ±Inf, 2^64-1, unknown enums, odd text), repeated
    fields emptied or doubled, and values switched to another kind (an int where a double was)."""
    signal, body, _ = draw(st.sampled_from(PROTOBUF_FIXTURES))
    message = _REQUEST_TYPES[signal].FromString(body)
    for _ in range(draw(st.integers(1, 6))):
        owner, field = draw(st.sampled_from(_fields_of(message)))
        if field.is_repeated:
            items = getattr(owner, field.name)
            if draw(st.booleans()) or not len(items):
                del items[:]
            else:
                items.extend(list(items)[: draw(st.integers(1, 3))])
        elif field.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
            owner.ClearField(field.name) if draw(st.booleans()) else getattr(owner, field.name).SetInParent()
        elif field.type == FieldDescriptor.TYPE_BYTES:
            setattr(owner, field.name, draw(st.sampled_from([b"", b"\xff" * 16, b"\x00" * 8, b"\x01" * 3])))
        else:
            setattr(owner, field.name, draw(st.sampled_from(_EDGE_VALUES[field.cpp_type])))
    return signal, message.SerializeToString()


# --- JSON: generated documents --------------------------------------------------------------------------------

_weird_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "NaN", "Infinity", "-1", "1e400", "0x10", "18446744073709551616", "00", " 5"]),
    st.text(max_size=20),
)
_number_text = st.one_of(
    st.integers(min_value=-(2**65), max_value=2**65).map(str),
    st.integers(min_value=0, max_value=2**63),
    st.sampled_from(["1700000000000000000", "-5", "abc", "", "1.5", "9" * 30]),
)


def _any_value(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(
        st.builds(lambda text: {"stringValue": text}, st.one_of(st.text(max_size=30), _weird_scalars)),
        st.builds(lambda number: {"intValue": number}, _number_text),
        st.builds(lambda number: {"doubleValue": number}, st.one_of(st.floats(), _weird_scalars)),
        st.builds(lambda flag: {"boolValue": flag}, _weird_scalars),
        st.builds(lambda data: {"bytesValue": data}, st.one_of(st.text(max_size=12), _weird_scalars)),
        st.builds(lambda items: {"arrayValue": {"values": items}}, st.lists(children, max_size=3)),
        st.builds(
            lambda items: {"kvlistValue": {"values": items}},
            st.lists(st.fixed_dictionaries({"key": st.text(max_size=8), "value": children}), max_size=3),
        ),
        _weird_scalars,
    )


any_values = st.recursive(_weird_scalars, _any_value, max_leaves=12)
attributes = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {
                "key": st.sampled_from(
                    ["user.id", "user.email", "organization.id", "session.id", "type", "model", "tool_name",
                     "decision", "event.name", "cost_usd", "input_tokens", "prompt"]
                ) | st.text(max_size=10),
                "value": any_values,
            }
        ),
        _weird_scalars,
    ),
    max_size=5,
)  # fmt: skip
_times = st.one_of(_number_text, _weird_scalars)
_metric_names = st.sampled_from(
    ["claude_code.lines_of_code.count", "claude_code.cost.usage", "claude_code.session.count",
     "claude_code.code_edit_tool.decision", "claude_code.token.usage", "other.metric"]
) | st.text(max_size=12)  # fmt: skip


def _point() -> st.SearchStrategy:
    return st.fixed_dictionaries(
        {"attributes": attributes, "timeUnixNano": _times},
        optional={
            "startTimeUnixNano": _times,
            "asDouble": st.one_of(st.floats(), _weird_scalars),
            "asInt": _number_text,
            "flags": st.integers(-5, 2**33),
            "exemplars": st.lists(st.dictionaries(st.text(max_size=6), _weird_scalars, max_size=2), max_size=1),
        },
    )


_metric = st.fixed_dictionaries(
    {"name": _metric_names},
    optional={
        "unit": st.text(max_size=5),
        "sum": st.fixed_dictionaries(
            {"dataPoints": st.lists(_point(), max_size=4)},
            optional={
                "aggregationTemporality": st.one_of(st.integers(-1, 4), _weird_scalars,
                                                    st.sampled_from(["AGGREGATION_TEMPORALITY_DELTA",
                                                                     "AGGREGATION_TEMPORALITY_CUMULATIVE"])),
                "isMonotonic": _weird_scalars,
            },
        ),
        "gauge": st.fixed_dictionaries({"dataPoints": st.lists(_point(), max_size=2)}),
        "histogram": st.fixed_dictionaries({"dataPoints": st.lists(st.dictionaries(st.text(max_size=6), _weird_scalars,
                                                                                   max_size=3), max_size=2)}),
    },
)  # fmt: skip


def _resource_wrapper(scope_key: str, items_key: str, items: st.SearchStrategy, container: str) -> st.SearchStrategy:
    scope = st.fixed_dictionaries(
        {items_key: st.one_of(st.lists(items, max_size=3), _weird_scalars)},
        optional={"scope": st.one_of(st.fixed_dictionaries({"name": st.text(max_size=10)}), _weird_scalars)},
    )
    resource = st.fixed_dictionaries(
        {scope_key: st.one_of(st.lists(scope, max_size=2), _weird_scalars)},
        optional={"resource": st.one_of(st.fixed_dictionaries({"attributes": attributes}), _weird_scalars),
                  "schemaUrl": st.text(max_size=5)},
    )  # fmt: skip
    return st.fixed_dictionaries({container: st.one_of(st.lists(resource, max_size=2), _weird_scalars)})


_log_record = st.fixed_dictionaries(
    {"attributes": attributes},
    optional={
        "timeUnixNano": _times,
        "observedTimeUnixNano": _times,
        "body": any_values,
        "severityNumber": st.one_of(st.integers(-3, 30), _weird_scalars),
        "severityText": _weird_scalars,
        "traceId": st.one_of(st.text("0123456789abcdef", min_size=0, max_size=34), _weird_scalars),
        "spanId": st.one_of(st.text("0123456789abcdefXYZ", min_size=0, max_size=18), _weird_scalars),
    },
)
json_documents = st.one_of(
    st.tuples(st.just("metrics"), _resource_wrapper("scopeMetrics", "metrics", _metric, "resourceMetrics")),
    st.tuples(st.just("logs"), _resource_wrapper("scopeLogs", "logRecords", _log_record, "resourceLogs")),
).map(lambda case: (case[0], encode_json(case[1])))


def encode_json(document: Any) -> bytes:
    return json.dumps(document, allow_nan=True).encode()


# --- JSON: well-formed documents, spelled every way the direct JSON decoder means to take ---------------------

_INT64 = st.integers(-(2**63), 2**63 - 1)
_finite = st.floats(allow_nan=False, allow_infinity=False)
# Around now, and the edges a point is refused at (0, past 2262, past 2^63, the largest fixed64).
_time_numbers = st.one_of(
    st.integers(1_600_000_000_000_000_000, 1_900_000_000_000_000_000),
    st.sampled_from([0, 1, 2**63 - 1, 2**63, 2**64 - 1]),
)


def _number_or_text(numbers: st.SearchStrategy) -> st.SearchStrategy:
    """OTLP/JSON writes 64-bit integers as strings; Claude Code also sends JSON numbers."""
    return numbers.flatmap(lambda number: st.sampled_from([number, str(number)]))


def _well_formed_any_value(children: st.SearchStrategy) -> st.SearchStrategy:
    items = st.fixed_dictionaries({}, optional={"values": st.lists(children, max_size=3)})
    pairs = st.lists(st.fixed_dictionaries({"key": st.text(max_size=8), "value": children}), max_size=3)
    return st.one_of(
        st.fixed_dictionaries({"arrayValue": items}),
        st.fixed_dictionaries({"kvlistValue": st.fixed_dictionaries({}, optional={"values": pairs})}),
    )


_finite_doubles = st.one_of(_finite, _finite.map(repr), st.integers(-(2**53), 2**53))
_well_formed_scalar_values = st.one_of(
    st.fixed_dictionaries({"stringValue": st.text(max_size=20)}),
    st.fixed_dictionaries({"intValue": _number_or_text(_INT64)}),
    st.fixed_dictionaries({"doubleValue": _finite_doubles}),
    st.fixed_dictionaries({"boolValue": st.booleans()}),
    st.just({}),  # an unset value
)
well_formed_any_values = st.recursive(_well_formed_scalar_values, _well_formed_any_value, max_leaves=6)
_attribute_keys = st.sampled_from("user.id user.email session.id type model tool_name decision event.name".split())
_well_formed_attributes = st.lists(
    st.fixed_dictionaries({"key": _attribute_keys | st.text(max_size=10), "value": well_formed_any_values}),
    max_size=5,
)
_well_formed_resource = st.fixed_dictionaries({}, optional={"attributes": _well_formed_attributes})
_well_formed_scope = st.fixed_dictionaries({}, optional={"name": st.text(max_size=12), "version": st.text(max_size=6)})


def _well_formed_point() -> st.SearchStrategy:
    value = st.one_of(
        st.fixed_dictionaries({"asDouble": _finite_doubles}),
        st.fixed_dictionaries({"asInt": _number_or_text(_INT64)}),
        st.just({}),  # a point without a value: refused, counted
    )
    point = st.fixed_dictionaries(
        {"attributes": _well_formed_attributes, "timeUnixNano": _number_or_text(_time_numbers)},
        optional={
            "startTimeUnixNano": _number_or_text(_time_numbers),
            "flags": st.integers(0, 2**32 - 1),
            "exemplars": st.just([]),
        },
    )
    return st.tuples(point, value).map(lambda parts: {**parts[0], **parts[1]})


_temporalities = st.sampled_from([1, 2, "AGGREGATION_TEMPORALITY_DELTA", "AGGREGATION_TEMPORALITY_CUMULATIVE"])
_well_formed_sum = st.fixed_dictionaries(
    {"dataPoints": st.lists(_well_formed_point(), max_size=4), "aggregationTemporality": _temporalities},
    optional={"isMonotonic": st.booleans()},
)
_well_formed_gauge = st.fixed_dictionaries({"dataPoints": st.lists(_well_formed_point(), max_size=3)})
_well_formed_metric_data = st.one_of(
    st.fixed_dictionaries({"sum": _well_formed_sum}), st.fixed_dictionaries({"gauge": _well_formed_gauge})
)
_well_formed_metric = st.tuples(
    st.fixed_dictionaries(
        {"name": _metric_names}, optional={"unit": st.text(max_size=5), "description": st.text(max_size=8)}
    ),
    _well_formed_metric_data,
).map(lambda parts: {**parts[0], **parts[1]})
_hex = st.binary(max_size=16).map(bytes.hex)
_well_formed_log_record = st.fixed_dictionaries(
    {"attributes": _well_formed_attributes},
    optional={
        "timeUnixNano": _number_or_text(_time_numbers),
        "observedTimeUnixNano": _number_or_text(_time_numbers),
        "severityNumber": st.one_of(
            st.integers(0, 24), st.sampled_from(["SEVERITY_NUMBER_INFO", "SEVERITY_NUMBER_ERROR"])
        ),
        "severityText": st.text(max_size=6),
        "body": well_formed_any_values,
        "eventName": st.sampled_from(["", "claude_code.api_request"]) | st.text(max_size=8),
        "traceId": _hex,
        "spanId": _hex,
        "droppedAttributesCount": st.integers(0, 2**32 - 1),
        "flags": st.integers(0, 2**32 - 1),
    },
)


def _well_formed(container: str, scope_key: str, items_key: str, items: st.SearchStrategy) -> st.SearchStrategy:
    scope = st.fixed_dictionaries(
        {items_key: st.lists(items, max_size=3)},
        optional={"scope": _well_formed_scope, "schemaUrl": st.text(max_size=5)},
    )
    resource = st.fixed_dictionaries(
        {scope_key: st.lists(scope, max_size=2)},
        optional={"resource": _well_formed_resource, "schemaUrl": st.text(max_size=5)},
    )
    return st.fixed_dictionaries({container: st.lists(resource, max_size=2)})


well_formed_metrics = _well_formed("resourceMetrics", "scopeMetrics", "metrics", _well_formed_metric)
well_formed_logs = _well_formed("resourceLogs", "scopeLogs", "logRecords", _well_formed_log_record)


# --- JSON: real requests with one node replaced ---------------------------------------------------------------


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated_json(draw: st.DrawFn) -> tuple[str, bytes]:
    signal, body, _ = draw(st.sampled_from(JSON_FIXTURES))
    document = json.loads(body)
    _replace_nodes(draw, document)
    return signal, encode_json(document)


@st.composite
def mutated_well_formed(draw: st.DrawFn, signal: str) -> bytes:
    """A well-formed document of `signal` with up to three nodes replaced by anything or removed."""
    document = draw(well_formed_metrics if signal == "metrics" else well_formed_logs)
    _replace_nodes(draw, document)
    return encode_json(document)


def _replace_nodes(draw: st.DrawFn, document: Any) -> None:
    for _ in range(draw(st.integers(1, 3))):
        paths = [path for path in _paths(document) if path]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = document
        for part in path[:-1]:
            parent = parent[part]
        replacement = draw(st.one_of(any_values, attributes, st.just([]), st.just({})))
        if draw(st.booleans()) or not isinstance(parent, dict):
            parent[path[-1]] = replacement
        else:
            del parent[path[-1]]
