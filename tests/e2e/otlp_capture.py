"""A minimal, independent OTLP sink for tests: records what an OTLP exporter sent, decoded to OTLP JSON.

Independent of the product's own decoder on purpose: it only uses opentelemetry-proto's generated classes
and protobuf's ``json_format``.

* HTTP (``/v1/metrics``, ``/v1/logs``, ``/v1/traces``) accepting ``application/json`` and
  ``application/x-protobuf`` (optionally gzip-encoded);
* gRPC (``MetricsService``/``LogsService``/``TraceService`` ``Export``).

Each request becomes one record in the format of ``/work/shared/fixtures/*.jsonl``::

    {"t": <unix time>, "proto": "http"|"grpc", "path": "/v1/metrics"|"/v1/logs"|"/v1/traces",
     "content_type": ..., "headers": {...}            # http
                          "metadata": {...}           # grpc
     "raw_json": {...}                                # http/json, as sent
     "body": {...}}                                   # http/protobuf and grpc: json_format.MessageToDict

Forward mode (a tee): ``otlp_capture(forward_http="http://127.0.0.1:4318", forward_grpc="127.0.0.1:4317")``
passes every request on, byte for byte (same path, Content-Type, Content-Encoding and Authorization; over gRPC
the same method and ``authorization`` metadata), to an upstream OTLP receiver and answers the sender with the
upstream's answer (status, body; gRPC status code and details). The record then also holds
``"forward_status"``: the upstream HTTP status (int) or gRPC status code name (``"OK"``, ``"UNAUTHENTICATED"``,
...), and ``"forward_body"`` (the upstream's response decoded to OTLP JSON, when it decodes).

``summarize(records)`` adds up metrics per name and attribute subset, and lists the events seen.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

PATHS = {
    "/v1/metrics": (metrics_service_pb2.ExportMetricsServiceRequest, metrics_service_pb2.ExportMetricsServiceResponse),
    "/v1/logs": (logs_service_pb2.ExportLogsServiceRequest, logs_service_pb2.ExportLogsServiceResponse),
    "/v1/traces": (trace_service_pb2.ExportTraceServiceRequest, trace_service_pb2.ExportTraceServiceResponse),
}

# Loopback only: never route a forwarded request through a proxy named in the environment.
_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class OtlpCapture:
    """Records OTLP requests over HTTP and gRPC. Use as a context manager or start()/stop()."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        grpc: bool = True,
        jsonl_path: Path | str | None = None,
        *,
        forward_http: str | None = None,
        forward_grpc: str | None = None,
    ):
        """``forward_http``: base URL of an upstream OTLP/HTTP receiver (``http://host:port``);
        ``forward_grpc``: ``host:port`` (or ``http://host:port``) of an upstream OTLP/gRPC receiver. Requests of
        a transport without an upstream are answered by the sink itself."""
        self.host = host
        self.forward_http = forward_http.rstrip("/") if forward_http else None
        self.forward_grpc = forward_grpc.split("://", 1)[-1] if forward_grpc else None
        self._grpc_channel = None
        self.records: list[dict] = []
        self.jsonl_path = Path(jsonl_path) if jsonl_path else None
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._http = ThreadingHTTPServer((host, 0), self._http_handler())
        self._http.daemon_threads = True
        self._http_thread: threading.Thread | None = None
        self._grpc_enabled = grpc
        self._grpc = None
        self.grpc_port: int | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def http_port(self) -> int:
        return self._http.server_address[1]

    @property
    def http_endpoint(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def grpc_endpoint(self) -> str:
        if self.grpc_port is None:
            raise RuntimeError("gRPC sink not started")
        return f"http://{self.host}:{self.grpc_port}"

    def endpoint_for(self, protocol: str) -> str:
        """OTEL_EXPORTER_OTLP_ENDPOINT value for an OTEL_EXPORTER_OTLP_PROTOCOL value."""
        return self.grpc_endpoint if protocol == "grpc" else self.http_endpoint

    def start(self) -> OtlpCapture:
        self._http_thread = threading.Thread(target=self._http.serve_forever, name="otlp-capture-http", daemon=True)
        self._http_thread.start()
        if self._grpc_enabled:
            self._start_grpc()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        if self._grpc is not None:
            self._grpc.stop(grace=None)
        if self._grpc_channel is not None:
            self._grpc_channel.close()

    def __enter__(self) -> OtlpCapture:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ recording
    def _add(self, record: dict) -> None:
        with self._cond:
            self.records.append(record)
            if self.jsonl_path is not None:
                with open(self.jsonl_path, "a") as f:
                    f.write(json.dumps(record) + "\n")
            self._cond.notify_all()

    def snapshot(self) -> list[dict]:
        with self._lock:
            return list(self.records)

    def clear(self) -> None:
        with self._lock:
            self.records.clear()

    def wait_for(self, predicate: Callable[[list[dict]], bool], timeout: float = 10.0) -> bool:
        """Wait until predicate(records) is true; returns whether it became true."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(list(self.records)):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.2))
            return True

    def write_jsonl(self, path: Path | str) -> None:
        with open(path, "w") as f:
            for r in self.snapshot():
                f.write(json.dumps(r) + "\n")

    # ------------------------------------------------------------------ forwarding
    def _forward_http(self, path: str, body: bytes, headers) -> tuple[int, bytes, str]:
        """POST the request as received to the upstream; (status, body, content type) of its answer."""
        fwd = {k: v for k in ("Content-Type", "Content-Encoding", "Authorization") if (v := headers.get(k))}
        req = urllib.request.Request(f"{self.forward_http}{path}", data=body, headers=fwd, method="POST")
        try:
            with _NO_PROXY_OPENER.open(req, timeout=30) as resp:
                return resp.status, resp.read(), resp.headers.get("Content-Type") or ""
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers.get("Content-Type") or ""
        except OSError as e:  # upstream unreachable: tell the sender to retry later
            return 503, f"forward failed: {e}".encode(), "text/plain"

    def _forward_grpc(self, method: str, request: bytes, metadata: list[tuple[str, str]]):
        """Call the upstream's ``method`` with the request bytes; (status code, response bytes, details)."""
        import grpc

        if self._grpc_channel is None:
            self._grpc_channel = grpc.insecure_channel(self.forward_grpc, options=[("grpc.enable_http_proxy", 0)])
        call = self._grpc_channel.unary_unary(method, request_serializer=None, response_deserializer=None)
        try:
            return grpc.StatusCode.OK, call(request, metadata=metadata, timeout=30), ""
        except grpc.RpcError as e:
            return e.code(), None, e.details() or ""

    # ------------------------------------------------------------------ HTTP
    def _http_handler(self):
        cap = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def _reply(self, status: int, data: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                t = time.time()
                n = int(self.headers.get("Content-Length") or 0)
                sent = self.rfile.read(n) if n else b""
                path = self.path.split("?")[0]
                ctype = self.headers.get("Content-Type") or ""
                headers = {k: v for k, v in self.headers.items()}
                rec: dict[str, Any] = {"t": t, "proto": "http", "path": path, "content_type": ctype, "headers": headers}
                upstream = cap._forward_http(path, sent, self.headers) if cap.forward_http else None
                req_cls, resp_cls = PATHS.get(path, (None, None))
                try:
                    enc = (self.headers.get("Content-Encoding") or "").lower()
                    raw = (
                        gzip.decompress(sent) if enc == "gzip" else zlib.decompress(sent) if enc == "deflate" else sent
                    )
                    if req_cls is None:
                        raise LookupError("unknown path")
                    if "json" in ctype:
                        rec["raw_json"] = json.loads(raw or b"{}")
                        out, out_type = b"{}", "application/json"
                    else:
                        msg = req_cls()
                        msg.ParseFromString(raw)
                        rec["body"] = json_format.MessageToDict(msg)
                        out, out_type = resp_cls().SerializeToString(), "application/x-protobuf"
                    status = 200
                except Exception as e:  # record what could not be decoded
                    rec["error"] = "unknown path" if req_cls is None else f"{type(e).__name__}: {e}"
                    if req_cls is None:
                        rec["size"] = len(sent)
                    status, out, out_type = (404 if req_cls is None else 400), str(e).encode(), "text/plain"
                if upstream is not None:
                    status, out, out_type = upstream
                    rec["forward_status"] = status
                    rec["forward_body"] = _decode_response(resp_cls, out, out_type)
                cap._add(rec)
                self._reply(status, out, out_type)

        return Handler

    # ------------------------------------------------------------------ gRPC
    def _start_grpc(self) -> None:
        import grpc

        cap = self
        # Raw bytes in and out (no (de)serializers), so a forwarded request is byte-identical to what was sent.
        services = {
            "opentelemetry.proto.collector.metrics.v1.MetricsService": "/v1/metrics",
            "opentelemetry.proto.collector.logs.v1.LogsService": "/v1/logs",
            "opentelemetry.proto.collector.trace.v1.TraceService": "/v1/traces",
        }

        def make_export(service: str, path: str):
            req_cls, resp_cls = PATHS[path]

            def export(request: bytes, context) -> bytes:
                md = {}
                for k, v in context.invocation_metadata():
                    md[k] = v if isinstance(v, str) else repr(v)
                rec: dict[str, Any] = {"t": time.time(), "proto": "grpc", "path": path, "metadata": md}
                try:
                    msg = req_cls()
                    msg.ParseFromString(request)
                    rec["body"] = json_format.MessageToDict(msg)
                except Exception as e:
                    rec["error"] = f"{type(e).__name__}: {e}"
                if cap.forward_grpc:
                    auth = [(k, v) for k, v in md.items() if k == "authorization"]
                    code, out, details = cap._forward_grpc(f"/{service}/Export", request, auth)
                    rec["forward_status"] = code.name
                    if out is not None:
                        rec["forward_body"] = _decode_response(resp_cls, out, "application/x-protobuf")
                    cap._add(rec)
                    if code != grpc.StatusCode.OK:
                        context.abort(code, details)
                    return out
                cap._add(rec)
                if "error" in rec:
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, rec["error"])
                return resp_cls().SerializeToString()

            return export

        handlers = tuple(
            grpc.method_handlers_generic_handler(
                service, {"Export": grpc.unary_unary_rpc_method_handler(make_export(service, path))}
            )
            for service, path in services.items()
        )
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        server.add_generic_rpc_handlers(handlers)
        self.grpc_port = server.add_insecure_port(f"{self.host}:0")
        server.start()
        self._grpc = server


def _decode_response(resp_cls: type | None, data: bytes, content_type: str) -> Any:
    """An upstream's OTLP response as OTLP JSON (``{}`` = full success); the raw text when it does not decode."""
    try:
        if "json" in content_type:
            return json.loads(data or b"{}")
        if resp_cls is not None and "protobuf" in content_type:
            msg = resp_cls()
            msg.ParseFromString(data)
            return json_format.MessageToDict(msg)
    except Exception:
        pass
    return data.decode(errors="replace")


@contextlib.contextmanager
def otlp_capture(
    jsonl_path: Path | str | None = None,
    grpc: bool = True,
    *,
    forward_http: str | None = None,
    forward_grpc: str | None = None,
) -> Iterator[OtlpCapture]:
    """A running sink (``forward_*``: a tee in front of an upstream receiver, see the module docstring)."""
    cap = OtlpCapture(grpc=grpc, jsonl_path=jsonl_path, forward_http=forward_http, forward_grpc=forward_grpc)
    cap.start()
    try:
        yield cap
    finally:
        cap.stop()


def load_jsonl(path: Path | str) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


# ====================================================================== summing
def any_value(v: dict | None) -> Any:
    """Python value of an OTLP AnyValue in JSON form (tolerates numbers sent as JSON numbers or strings)."""
    if not v:
        return None
    if "stringValue" in v:
        return v["stringValue"]
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "arrayValue" in v:
        return [any_value(x) for x in (v["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in v:
        return {kv["key"]: any_value(kv.get("value")) for kv in (v["kvlistValue"] or {}).get("values", [])}
    if "bytesValue" in v:
        return v["bytesValue"]
    return None


def attrs(items: Iterable[dict] | None) -> dict[str, Any]:
    return {kv["key"]: any_value(kv.get("value")) for kv in items or []}


def _payload(rec: dict) -> dict:
    return rec.get("raw_json") or rec.get("body") or {}


_DELTA = {1, "1", "AGGREGATION_TEMPORALITY_DELTA"}


@dataclass
class Point:
    metric: str
    value: float
    attributes: dict[str, Any]
    temporality: str  # delta | cumulative | gauge
    unit: str = ""
    resource: dict[str, Any] = field(default_factory=dict)


@dataclass
class Event:
    name: str  # event.name attribute (e.g. "api_request")
    body: Any
    attributes: dict[str, Any]
    resource: dict[str, Any] = field(default_factory=dict)


@dataclass
class Summary:
    points: list[Point]
    events: list[Event]
    requests: dict[str, int]  # per path

    @property
    def metric_names(self) -> set[str]:
        return {p.metric for p in self.points}

    @property
    def event_names(self) -> list[str]:
        return [e.name for e in self.events]

    def metric_total(self, name: str, **where: Any) -> float:
        """Sum of a counter over all points whose attributes match ``where`` (attribute keys with dots can be
        passed as ``**{"a.b": v}``). Delta points are added; for cumulative series the last value of each
        distinct attribute set is taken."""
        total = 0.0
        cumulative: dict[tuple, float] = {}
        for p in self.points:
            if p.metric != name or any(p.attributes.get(k) != v for k, v in where.items()):
                continue
            if p.temporality == "cumulative":
                cumulative[tuple(sorted((k, json.dumps(v)) for k, v in p.attributes.items()))] = p.value
            else:
                total += p.value
        return total + sum(cumulative.values())

    def by(self, name: str, *keys: str) -> dict[tuple, float]:
        """Totals of metric ``name`` grouped by the given attribute keys."""
        groups = {tuple(p.attributes.get(k) for k in keys) for p in self.points if p.metric == name}
        return {g: self.metric_total(name, **dict(zip(keys, g, strict=True))) for g in sorted(groups, key=repr)}

    def events_named(self, name: str) -> list[Event]:
        return [e for e in self.events if e.name == name]

    def as_dict(self) -> dict:
        """A compact JSON-able overview (for reports/diagnostics)."""
        out: dict[str, Any] = {"requests": self.requests, "metrics": {}, "events": {}}
        keyed = {
            "claude_code.lines_of_code.count": ("type",),
            "claude_code.code_edit_tool.decision": ("tool_name", "decision", "source"),
            "claude_code.token.usage": ("type", "model"),
            "claude_code.cost.usage": ("model", "query_source"),
            "claude_code.session.count": ("start_type",),
            "claude_code.active_time.total": ("type",),
        }
        for name in sorted(self.metric_names):
            keys = keyed.get(name, ())
            out["metrics"][name] = {"/".join(map(str, k)) or "*": v for k, v in self.by(name, *keys).items()}
        for e in self.events:
            out["events"][e.name] = out["events"].get(e.name, 0) + 1
        return out


def summarize(records: Iterable[dict]) -> Summary:
    points: list[Point] = []
    events: list[Event] = []
    requests: dict[str, int] = defaultdict(int)
    for rec in records:
        requests[rec.get("path", "?")] += 1
        data = _payload(rec)
        for rm in data.get("resourceMetrics") or []:
            res = attrs((rm.get("resource") or {}).get("attributes"))
            for sm in rm.get("scopeMetrics") or []:
                for m in sm.get("metrics") or []:
                    for kind in ("sum", "gauge", "histogram"):
                        if kind not in m:
                            continue
                        body = m[kind] or {}
                        if kind == "sum":
                            temp = "delta" if body.get("aggregationTemporality") in _DELTA else "cumulative"
                        else:
                            temp = kind
                        for dp in body.get("dataPoints") or []:
                            if "asDouble" in dp:
                                val = float(dp["asDouble"])
                            elif "asInt" in dp:
                                val = float(dp["asInt"])
                            elif "sum" in dp:
                                val = float(dp["sum"])
                            else:
                                val = 0.0
                            points.append(
                                Point(m.get("name", ""), val, attrs(dp.get("attributes")), temp, m.get("unit", ""), res)
                            )
        for rl in data.get("resourceLogs") or []:
            res = attrs((rl.get("resource") or {}).get("attributes"))
            for sl in rl.get("scopeLogs") or []:
                for lr in sl.get("logRecords") or []:
                    a = attrs(lr.get("attributes"))
                    body = any_value(lr.get("body"))
                    name = (
                        a.get("event.name")
                        or lr.get("eventName")
                        or (
                            body[len("claude_code.") :]
                            if isinstance(body, str) and body.startswith("claude_code.")
                            else str(body)
                        )
                    )
                    events.append(Event(name, body, a, res))
    return Summary(points, events, dict(requests))
