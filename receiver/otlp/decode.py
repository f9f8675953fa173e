"""OTLP request decoding: protobuf or JSON bytes to pdata, with Claude Code's encoding quirks tolerated.

Everything here is pure (bytes in, data out) so both the HTTP and the gRPC server share it. OTLP/JSON takes
the direct path (decoding.direct_json) when it can and the reference path (decoding.protobuf) otherwise; both
give the same rows, refusals and reasons.
"""

from __future__ import annotations

from pdata import LogEvent, MetricPoint
from receiver.otlp.decoding.checks import (
    ANY_VALUE_TOO_DEEP,
    JSON_TOO_DEEP,
    MAX_ANY_VALUE_DEPTH,
    DecodeFailure,
    Encoding,
)
from receiver.otlp.decoding.direct_json import Declined, json_logs, json_metrics
from receiver.otlp.decoding.items import ItemCheck
from receiver.otlp.decoding.protobuf import (
    flatten_logs,
    flatten_metrics,
    parse_into,
    parse_logs_request,
    parse_metrics_request,
)
from receiver.otlp.decoding.repeats import values_for

__all__ = [
    "ANY_VALUE_TOO_DEEP",
    "JSON_TOO_DEEP",
    "MAX_ANY_VALUE_DEPTH",
    "DecodeFailure",
    "Encoding",
    "ItemCheck",
    "decode_logs",
    "decode_metrics",
    "parse_into",
]


def decode_metrics(
    body: bytes, encoding: Encoding, check_items: ItemCheck | None = None
) -> tuple[list[MetricPoint], int, str]:
    """Points, rejected count and reason of an OTLP metrics request body (raises DecodeFailure). `check_items`
    gets the number of data points once parsed, before any point is built, and may refuse the request."""
    if encoding == "json":
        try:
            return json_metrics(body, check_items)
        except Declined:
            pass
    return flatten_metrics(parse_metrics_request(body, encoding, check_items), values_for(body))


def decode_logs(
    body: bytes, encoding: Encoding, received_ns: int, check_items: ItemCheck | None = None
) -> tuple[list[LogEvent], int, str]:
    """Events, rejected count and reason of an OTLP logs request body (raises DecodeFailure); `check_items` as
    for decode_metrics, with the number of log records."""
    if encoding == "json":
        try:
            return json_logs(body, received_ns, check_items)
        except Declined:
            pass
    return flatten_logs(parse_logs_request(body, encoding, check_items), received_ns, values_for(body))
