"""The memory of a decoded request: the values its points and records repeat (identity attributes, attribute
names, times) are held once, and points with equal attributes share one dict, on every decoding path and in
the insert's columns; the rows are the same as before."""

from __future__ import annotations

import json
from typing import Any

import pytest

from exporters.clickhouse.rows import POINT_COLUMNS, point_columns
from pdata import Member, MetricPoint, PointFact
from receiver.otlp.decode import decode_logs, decode_metrics
from receiver.otlp.decoding.repeats import MAX_ATTRIBUTE_SETS, SHARED_FROM_BYTES
from tests.support import otlp_raw as otlp

TIME_NS = 1_780_000_000_000_000_000
MEMBERS = 12
POINTS_PER_MEMBER = 250
METRICS = {  # name: the attributes of its points besides the member's identity
    otlp.LINES: {"type": "added"},
    otlp.DECISION: {"tool_name": "Edit", "decision": "accept", "source": "config"},
    otlp.COST: {"model": "claude-opus-4-6"},
}


def _identity(member: int, session: int = 0) -> dict[str, str]:
    return otlp.who("org-repeats", f"dev{member}", f"s{session}")


def _metrics_document(identities: list[dict[str, str]]) -> dict[str, Any]:
    metrics = [
        otlp.sum_metric(name, [otlp.point(1.0, {**who, **extra}, TIME_NS) for who in identities])
        for name, extra in METRICS.items()
    ]
    return otlp.metrics_request(metrics)


def _expected_attributes(identities: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{**who, **extra} for extra in METRICS.values() for who in identities]


def _repeated_identities() -> list[dict[str, str]]:
    return [_identity(index % MEMBERS) for index in range(MEMBERS * POINTS_PER_MEMBER)]


PATHS = {
    "protobuf": lambda document: decode_metrics(otlp.to_protobuf(document), "protobuf"),
    "json (direct)": lambda document: decode_metrics(otlp.to_json(document), "json"),
    # Proto field names: the direct path declines, ParseDict takes the request.
    "json (ParseDict)": lambda document: decode_metrics(
        otlp.to_json(document).replace(b"dataPoints", b"data_points"), "json"
    ),  # fmt: skip
}


def _distinct(objects: list[Any]) -> int:
    return len({id(item) for item in objects})


@pytest.mark.parametrize("path", PATHS)
def test_points_with_equal_attributes_share_one_dict_and_one_copy_of_each_value(path: str) -> None:
    identities = _repeated_identities()
    points, rejected, _ = PATHS[path](_metrics_document(identities))
    assert rejected == 0
    assert [point.attributes for point in points] == _expected_attributes(identities)
    assert len(points) == 3 * MEMBERS * POINTS_PER_MEMBER
    # One dict per distinct set of attributes (12 members × 3 metrics), not one per point (9 000).
    assert _distinct([point.attributes for point in points]) == 3 * MEMBERS
    texts = [text for point in points for item in point.attributes.items() for text in item]
    assert _distinct(texts) == len(set(texts))
    assert _distinct([point.time_ns for point in points]) == 1
    assert _distinct([point.start_ns for point in points]) == 1
    assert _distinct([point.resource for point in points]) == 1


@pytest.mark.parametrize("path", PATHS)
def test_points_of_all_different_attributes_decode_as_before(path: str) -> None:
    # More distinct sets than are held: the later ones get dicts of their own, with the same contents.
    identities = [_identity(index, session=index) for index in range(MAX_ATTRIBUTE_SETS // 3 + 200)]
    points, rejected, _ = PATHS[path](_metrics_document(identities))
    assert rejected == 0
    assert [point.attributes for point in points] == _expected_attributes(identities)
    assert _distinct([point.attributes for point in points]) == len(points)


def _logs_body(encoding: str) -> bytes:
    records = [
        {
            "timeUnixNano": str(TIME_NS),
            "body": {"stringValue": "claude_code.tool_decision"},
            "attributes": [
                {"key": key, "value": {"stringValue": value}}
                for key, value in {**_identity(index % MEMBERS), "event.name": "tool_decision"}.items()
            ],
        }
        for index in range(MEMBERS * POINTS_PER_MEMBER)
    ]
    document = {"resourceLogs": [{"scopeLogs": [{"logRecords": records}]}]}
    return json.dumps(document).encode() if encoding == "json" else otlp.to_protobuf(document, "logs")


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_log_records_with_equal_attributes_share_one_dict(encoding: str) -> None:
    events, _, _ = decode_logs(_logs_body(encoding), encoding, TIME_NS)  # type: ignore[arg-type]
    assert len(events) == MEMBERS * POINTS_PER_MEMBER
    assert [event.attributes["user.email"] for event in events[:MEMBERS]] == [
        f"dev{index}@org-repeats.example" for index in range(MEMBERS)
    ]
    assert {(event.name, event.body, event.time_ns) for event in events} == {
        ("tool_decision", "claude_code.tool_decision", TIME_NS)
    }
    assert _distinct([event.attributes for event in events]) == MEMBERS
    assert _distinct([event.body for event in events]) == 1


def test_rows_of_points_sharing_attributes_share_one_stored_map() -> None:
    identities = _repeated_identities()
    points, _, _ = decode_metrics(otlp.to_protobuf(_metrics_document(identities)), "protobuf")
    columns = point_columns([_fact(point) for point in points])
    stored = columns[POINT_COLUMNS.index("attributes")]
    identity_keys = {"user.id", "session.id", "user.email", "organization.id"}
    assert stored == [{key: value for key, value in point.attributes.items() if key not in identity_keys}
                      for point in points]  # fmt: skip
    assert _distinct(stored) == 3 * MEMBERS


def _fact(point: MetricPoint) -> PointFact:
    return PointFact(point, Member("m", "email"), point.value, 0, "lines_added", "", b"d" * 16, TIME_NS)


def test_a_small_request_is_decoded_value_by_value() -> None:
    # Below SHARED_FROM_BYTES the look-ups would cost more than they save: the same rows, built one by one.
    identities = [_identity(0)] * 4
    body = otlp.to_protobuf(_metrics_document(identities))
    assert len(body) < SHARED_FROM_BYTES
    points, _, _ = decode_metrics(body, "protobuf")
    assert [point.attributes for point in points] == _expected_attributes(identities)
    assert _distinct([point.attributes for point in points]) == len(points)
