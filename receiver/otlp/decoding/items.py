"""How many items (data points, log records, spans) a request holds, counted on the parsed message or JSON
document before anything is built from it.

Both decoders call an `ItemCheck` with the count between parsing and building, so that a request holding too
many items, or whose items would not fit the in-flight budget, is refused before its points or records exist
(ingest.RequestBounds). Counting walks the resources and scopes only and takes the length of each list: a
fraction of what building costs. On a JSON document it never refuses a shape: what is not a list or an object
where OTLP puts one counts nothing, and the decoder then says what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Called with a request's item count after parsing and before building; raises to refuse the request.
ItemCheck = Callable[[int], None]

# Every kind of metric data, each holding a list of data points, by its JSON and its proto names.
_METRIC_KINDS_JSON = ("sum", "gauge", "histogram", "exponentialHistogram", "exponential_histogram", "summary")

# Per request message: its resources, each resource's scopes, each scope's items; as protobuf fields and as
# (JSON name, proto name) pairs, both of which protobuf's ParseDict takes.
_LAYOUT = {
    "ExportMetricsServiceRequest": ("resource_metrics", "scope_metrics", "metrics"),
    "ExportLogsServiceRequest": ("resource_logs", "scope_logs", "log_records"),
    "ExportTraceServiceRequest": ("resource_spans", "scope_spans", "spans"),
}
_JSON_NAMES = {
    "resource_metrics": "resourceMetrics",
    "scope_metrics": "scopeMetrics",
    "resource_logs": "resourceLogs",
    "scope_logs": "scopeLogs",
    "log_records": "logRecords",
    "resource_spans": "resourceSpans",
    "scope_spans": "scopeSpans",
    "exponential_histogram": "exponentialHistogram",
    "data_points": "dataPoints",
}


def message_items(message: Any) -> int:
    """Data points (of every kind), log records or spans of a parsed Export…ServiceRequest."""
    resources_field, scopes_field, items_field = _LAYOUT[message.DESCRIPTOR.name]
    count = 0
    for resource in getattr(message, resources_field):
        for scope in getattr(resource, scopes_field):
            items = getattr(scope, items_field)
            if items_field != "metrics":
                count += len(items)
                continue
            for metric in items:
                kind = metric.WhichOneof("data")
                if kind is not None:
                    count += len(getattr(metric, kind).data_points)
    return count


def document_items(document: dict[str, Any], message_name: str) -> int:
    """What message_items would count once an OTLP/JSON `document` is parsed as `message_name`."""
    resources_field, scopes_field, items_field = _LAYOUT[message_name]
    count = 0
    for resource in _field_list(document, resources_field):
        for scope in _field_list(resource, scopes_field):
            items = _field_list(scope, items_field)
            if items_field != "metrics":
                count += len(items)
                continue
            for metric in items:
                count += _metric_points(metric)
    return count


def _metric_points(metric: Any) -> int:
    if not isinstance(metric, dict):
        return 0
    count = 0
    for name in _METRIC_KINDS_JSON:
        data = metric.get(name)
        if isinstance(data, dict):
            count += len(_field_list(data, "data_points"))
    return count


def _field_list(node: Any, field: str) -> list[Any]:
    """The list a JSON object holds under a field's JSON name, else its proto name; [] when it holds none."""
    if not isinstance(node, dict):
        return []
    value = node.get(_JSON_NAMES.get(field, field))
    if value is None:
        value = node.get(field)
    return value if isinstance(value, list) else []
