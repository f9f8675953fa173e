"""A realistic Claude Code telemetry load: N simulated developers sending OTLP to a collector.

Each developer behaves like the real CLI (see ../shared/fixtures/): delta temporality, identity attributes on
every point and record (not on the resource), a metric export every 60 s of simulated time and a log export
every 5 s in which the developer was active, with bursts of user_prompt / api_request / tool_decision /
tool_result / assistant_response events. Requests go over gRPC, HTTP/protobuf or HTTP/JSON, either as each
client sends them (`client`: a few points per request) or as a gateway collector in front batches them
(`gateway`: hundreds of points per request).

Every request carries the figures it contributes (a `Tally`); the tallies of acknowledged requests add up
to what the collector's read API must report, which is what tests/bench/test_loadgen.py checks.

    cc-analytics loadgen --url http://127.0.0.1:4317 --developers 5000 --duration 60s
    python -m bench.loadgen --protocol http/json --url http://127.0.0.1:4318 --shape gateway --rate max
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
import uuid
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

PROTOCOLS = ("grpc", "http/protobuf", "http/json")
SHAPES = ("client", "gateway")
METRIC_INTERVAL_S = 60.0  # OTEL_METRIC_EXPORT_INTERVAL default
LOG_INTERVAL_S = 5.0  # OTEL_LOGS_EXPORT_INTERVAL default
WINDOWS_PER_METRIC_EXPORT = int(METRIC_INTERVAL_S / LOG_INTERVAL_S)
VERSION = "2.1.331"
MODELS = ("claude-sonnet-4-5", "claude-opus-4-6[1m]", "claude-haiku-4-5")
TERMINALS = ("vscode", "iTerm.app", "tmux", "non-interactive", "cursor")
CODE_EDIT_TOOLS = ("Edit", "Write", "MultiEdit", "NotebookEdit")
OTHER_TOOLS = ("Read", "Bash", "Grep", "Glob")
LANGUAGES = ("Python", "TypeScript", "Go", "Rust", "Markdown")
_RETRYABLE_HTTP = {"429", "502", "503", "504"}
_RETRYABLE_GRPC = {"RESOURCE_EXHAUSTED", "UNAVAILABLE"}
_GRPC_METHODS = {
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}


# ---------------------------------------------------------------------------------------------- the figures


@dataclass(slots=True)
class Tally:
    """What a set of requests contributes to the analytics (ARCHITECTURE.md, Semantics)."""

    requests: int = 0
    points: int = 0
    records: int = 0
    accepted_lines: int = 0
    removed_lines: int = 0
    accepts: int = 0
    rejects: int = 0
    spend_micros: int = 0  # integer micro-dollars: exact however the additions are ordered
    members: set[tuple[str, str]] = field(default_factory=set)  # (member_type, member)
    sessions: set[str] = field(default_factory=set)

    @property
    def items(self) -> int:
        return self.points + self.records

    @property
    def spend_usd(self) -> float:
        return self.spend_micros / 1_000_000

    def add(self, other: Tally) -> None:
        self.requests += other.requests
        self.points += other.points
        self.records += other.records
        self.accepted_lines += other.accepted_lines
        self.removed_lines += other.removed_lines
        self.accepts += other.accepts
        self.rejects += other.rejects
        self.spend_micros += other.spend_micros
        self.members |= other.members
        self.sessions |= other.sessions

    def figures(self) -> dict[str, Any]:
        """The API's `totals` as this traffic should make them."""
        decided = self.accepts + self.rejects
        return {
            "accepted_lines": self.accepted_lines,
            "removed_lines": self.removed_lines,
            "accepts": self.accepts,
            "rejects": self.rejects,
            "acceptance_rate": None if decided == 0 else self.accepts / decided,
            "active_users": len(self.members),
            "sessions": len(self.sessions),
            "spend_usd": round(self.spend_usd, 6),
        }


# ---------------------------------------------------------------------------------------------- developers


@dataclass(slots=True)
class Developer:
    index: int
    kind: str  # email | account | anonymous: how the collector will name this member
    member: str
    identity: list[tuple[str, str]]  # attributes on every point and record
    resource: list[tuple[str, Any]]
    model: str
    session_id: str = ""
    session_left: int = 0  # metric exports until the session ends
    new_session: bool = False
    sequence: int = 0
    prompt_id: str = ""
    last_export_ns: int = 0
    # accumulated since the last metric export (delta temporality)
    lines_added: int = 0
    lines_removed: int = 0
    decisions: Counter = field(default_factory=Counter)  # (tool, decision, language) -> n
    cost_micros: Counter = field(default_factory=Counter)  # model -> micro-USD
    tokens: Counter = field(default_factory=Counter)  # (model, type) -> n
    active_user_s: float = 0.0
    active_cli_s: float = 0.0
    terminal: str = "vscode"


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _developer(index: int, rng: random.Random, organization: str) -> Developer:
    user_id = f"{rng.getrandbits(256):064x}"
    terminal = rng.choice(TERMINALS)
    slot = index % 10
    identity: list[tuple[str, str]] = [("user.id", user_id)]
    if slot < 7:  # OAuth sign-in: email, account and organization
        account = f"user_01{rng.getrandbits(60):015X}"
        email = f"dev{index:05d}@bench.example.com"
        identity += [("user.email", email), ("user.account_uuid", _uuid(rng)), ("user.account_id", account),
                     ("organization.id", organization)]  # fmt: skip
        kind, member = "email", email
    elif slot < 9:  # account without an email
        account = f"user_01{rng.getrandbits(60):015X}"
        identity += [("user.account_uuid", _uuid(rng)), ("user.account_id", account),
                     ("organization.id", organization)]  # fmt: skip
        kind, member = "account", account
    else:  # API-key user: only user.id and session.id
        kind, member = "anonymous", user_id
    resource: list[tuple[str, Any]] = [
        ("host.arch", rng.choice(("amd64", "arm64"))),
        ("os.type", rng.choice(("linux", "darwin", "windows"))),
        ("os.version", "6.8.0"),
        ("service.name", "claude-code"),
        ("service.version", VERSION),
    ]
    return Developer(
        index, kind, member, identity, resource, rng.choice(MODELS), last_export_ns=time.time_ns(), terminal=terminal
    )


# ---------------------------------------------------------------------------------------------- OTLP building


def _set(attributes: Any, key: str, value: Any) -> None:
    kv = attributes.add()
    kv.key = key
    if isinstance(value, bool):
        kv.value.bool_value = value
    elif isinstance(value, int):
        kv.value.int_value = value
    elif isinstance(value, float):
        kv.value.double_value = value
    else:
        kv.value.string_value = value


def _common(attributes: Any, dev: Developer) -> None:
    for key, value in dev.identity:
        kv = attributes.add()
        kv.key = key
        kv.value.string_value = value
    if dev.session_id:
        kv = attributes.add()
        kv.key = "session.id"
        kv.value.string_value = dev.session_id
    _set(attributes, "anthropic.provider", "firstParty")
    _set(attributes, "anthropic.custom_base_url", False)


def _resource(target: Any, dev: Developer) -> None:
    for key, value in dev.resource:
        _set(target.attributes, key, value)


@dataclass(slots=True)
class Request:
    signal: str  # metrics | logs
    body: bytes
    content_type: str
    tally: Tally
    due_s: float = 0.0  # seconds after start when a real-time client would send it


class Workload:
    """Deterministic (per seed) traffic of `developers` developers, one 5 s log window at a time."""

    def __init__(
        self,
        developers: int,
        protocol: str = "grpc",
        shape: str = "client",
        gateway_batch: int = 50,
        seed: int = 1,
        organization: str = "",
        activity: float = 0.35,
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}")
        if shape not in SHAPES:
            raise ValueError(f"shape must be one of {', '.join(SHAPES)}")
        self.protocol = protocol
        self.shape = shape
        self.gateway_batch = gateway_batch if shape == "gateway" else 1
        self.rng = random.Random(seed)
        organization = organization or _uuid(self.rng)
        self.developers = [_developer(index, self.rng, organization) for index in range(developers)]
        self.activity = activity
        self.window = 0
        self._clock_ns = 0

    # -- time: wall clock, strictly increasing so that no two requests are byte-identical
    def _now(self) -> int:
        now = time.time_ns()
        self._clock_ns = now if now > self._clock_ns else self._clock_ns + 1000
        return self._clock_ns

    def requests(self) -> Iterator[Request]:
        """Requests forever (the caller stops), in the order a real population would send them."""
        pending: dict[str, list[tuple[Any, Tally, float]]] = {"metrics": [], "logs": []}
        count = len(self.developers)
        while True:
            for position, dev in enumerate(self.developers):
                due = (self.window + position / count) * LOG_INTERVAL_S
                if self.rng.random() < self.activity:
                    pending["logs"].append((*self._log_export(dev), due))
                if (self.window + dev.index) % WINDOWS_PER_METRIC_EXPORT == 0:
                    export = self._metric_export(dev)
                    if export is not None:
                        pending["metrics"].append((*export, due))
                for signal, items in pending.items():
                    if len(items) >= self.gateway_batch:
                        yield self._request(signal, items)
                        items.clear()
            self.window += 1

    def take(self, count: int) -> list[Request]:
        iterator = self.requests()
        return [next(iterator) for _ in range(count)]

    def _request(self, signal: str, exports: list[tuple[Any, Tally, float]]) -> Request:
        if len(exports) == 1:
            message, tally, due = exports[0]
        else:
            message = _merged(signal, [part for part, _, _ in exports])
            tally = Tally()
            for _, part_tally, _ in exports:
                tally.add(part_tally)
            tally.requests = 1
            due = exports[-1][2]
        if self.protocol == "http/json":
            body = json.dumps(json_format.MessageToDict(message), separators=(",", ":")).encode()
            content_type = "application/json"
        else:
            body = message.SerializeToString()
            content_type = "application/x-protobuf"
        return Request(signal, body, content_type, tally, due)

    def _session(self, dev: Developer, tally: Tally) -> None:
        if not dev.session_id or dev.session_left <= 0:
            dev.session_id = _uuid(self.rng)
            dev.session_left = self.rng.randint(20, 90)
            dev.new_session = True
            dev.sequence = 0
        tally.sessions.add(dev.session_id)
        tally.members.add((dev.kind, dev.member))

    def _log_export(self, dev: Developer) -> tuple[ExportLogsServiceRequest, Tally]:
        """One 5 s window of a developer at work: part of a turn (prompt, API calls, tool calls)."""
        rng = self.rng
        tally = Tally(requests=1)
        self._session(dev, tally)
        message = ExportLogsServiceRequest()
        resource_logs = message.resource_logs.add()
        _resource(resource_logs.resource, dev)
        scope_logs = resource_logs.scope_logs.add()
        scope_logs.scope.name = "com.anthropic.claude_code.events"
        scope_logs.scope.version = VERSION
        records = scope_logs.log_records
        now = self._now()

        def event(name: str, **attributes: Any) -> None:
            record = records.add()
            record.time_unix_nano = now - rng.randint(0, 4_000_000_000)
            record.observed_time_unix_nano = record.time_unix_nano
            record.body.string_value = f"claude_code.{name}"
            _common(record.attributes, dev)
            _set(record.attributes, "terminal.type", dev.terminal)
            _set(record.attributes, "event.name", name)
            _set(record.attributes, "event.timestamp", time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now / 1e9)))
            _set(record.attributes, "event.sequence", dev.sequence)
            dev.sequence += 1
            if dev.prompt_id:
                _set(record.attributes, "prompt.id", dev.prompt_id)
            for key, value in attributes.items():
                _set(record.attributes, key.replace("__", "."), value)
            tally.records += 1

        if not dev.prompt_id or rng.random() < 0.3:
            dev.prompt_id = _uuid(rng)
            event("user_prompt", prompt_length=str(rng.randint(10, 2000)), prompt="<REDACTED>")
        for _ in range(rng.randint(1, 2)):
            model = dev.model if rng.random() < 0.8 else "claude-haiku-4-5"
            tokens = {"input": rng.randint(50, 5000), "output": rng.randint(20, 2000),
                      "cacheRead": rng.randint(0, 40000), "cacheCreation": rng.randint(0, 3000)}  # fmt: skip
            cost = rng.randint(500, 60_000)
            dev.cost_micros[model] += cost
            for kind, count in tokens.items():
                dev.tokens[(model, kind)] += count
            event("api_request", model=model, cost_usd=cost / 1e6, cost_usd_micros=cost,
                  duration_ms=rng.randint(300, 20000), ttft_ms=rng.randint(100, 3000),
                  input_tokens=tokens["input"], output_tokens=tokens["output"],
                  cache_read_tokens=tokens["cacheRead"], cache_creation_tokens=tokens["cacheCreation"],
                  request_id=f"req_{rng.getrandbits(64):016x}", query_source="sdk", speed="normal",
                  effort="medium")  # fmt: skip
            if rng.random() < 0.6:
                tool = rng.choice(CODE_EDIT_TOOLS[:2] if rng.random() < 0.6 else OTHER_TOOLS)
                if rng.random() < 0.02:
                    tool = rng.choice(CODE_EDIT_TOOLS[2:])
                decision = "accept" if rng.random() < 0.85 else "reject"
                use_id = f"toolu_{rng.getrandbits(64):016x}"
                source = (
                    rng.choice(("config", "user_temporary", "user_permanent"))
                    if decision == "accept"
                    else "user_reject"
                )
                event("tool_decision", tool_name=tool, tool_use_id=use_id, decision=decision, source=source,
                      tool_source="builtin")  # fmt: skip
                if decision == "accept":
                    event("tool_result", tool_name=tool, tool_use_id=use_id, success="true",
                          duration_ms=str(rng.randint(1, 900)), tool_input_size_bytes=rng.randint(10, 9000),
                          tool_result_size_bytes=rng.randint(10, 9000))  # fmt: skip
                if tool in CODE_EDIT_TOOLS:
                    dev.decisions[(tool, decision, rng.choice(LANGUAGES))] += 1
                    if decision == "accept":
                        dev.lines_added += rng.randint(1, 40)
                        dev.lines_removed += rng.randint(0, 12)
        if rng.random() < 0.4:
            event("assistant_response", model=dev.model, response_length=rng.randint(10, 4000), query_source="sdk")
        dev.active_user_s += rng.randint(1, 5)
        dev.active_cli_s += rng.randint(1, 30) / 10
        return message, tally

    def _metric_export(self, dev: Developer) -> tuple[ExportMetricsServiceRequest, Tally] | None:
        """What the CLI's 60 s delta export holds: only the series that changed in the interval."""
        changed = dev.new_session or dev.lines_added or dev.decisions or dev.cost_micros or dev.active_user_s
        if not changed:
            return None
        tally = Tally(requests=1)
        self._session(dev, tally)
        message = ExportMetricsServiceRequest()
        resource_metrics = message.resource_metrics.add()
        _resource(resource_metrics.resource, dev)
        scope = resource_metrics.scope_metrics.add()
        scope.scope.name = "com.anthropic.claude_code"
        scope.scope.version = VERSION
        start, now = dev.last_export_ns, self._now()
        dev.last_export_ns = now

        def metric(name: str, unit: str) -> Any:
            item = scope.metrics.add()
            item.name = name
            item.unit = unit
            item.sum.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
            item.sum.is_monotonic = True
            return item.sum.data_points

        def point(points: Any, value: float, **attributes: Any) -> None:
            data_point = points.add()
            data_point.start_time_unix_nano = start
            data_point.time_unix_nano = now
            data_point.as_double = value
            _common(data_point.attributes, dev)
            _set(data_point.attributes, "terminal.type", dev.terminal)
            for key, attribute in attributes.items():
                _set(data_point.attributes, key, attribute)
            tally.points += 1

        if dev.new_session:
            point(metric("claude_code.session.count", ""), 1.0, start_type="fresh")
            dev.new_session = False
        if dev.lines_added or dev.lines_removed:
            points = metric("claude_code.lines_of_code.count", "")
            if dev.lines_added:
                point(points, float(dev.lines_added), type="added", model=dev.model)
            if dev.lines_removed:
                point(points, float(dev.lines_removed), type="removed", model=dev.model)
            tally.accepted_lines += dev.lines_added
            tally.removed_lines += dev.lines_removed
        if dev.cost_micros:
            costs = metric("claude_code.cost.usage", "USD")
            for model, micros in sorted(dev.cost_micros.items()):
                point(costs, micros / 1e6, model=model, query_source="main", effort="medium")
                tally.spend_micros += micros
            tokens = metric("claude_code.token.usage", "tokens")
            for (model, kind), count in sorted(dev.tokens.items()):
                point(tokens, float(count), model=model, query_source="main", effort="medium", type=kind)
        if dev.decisions:
            decisions = metric("claude_code.code_edit_tool.decision", "")
            for (tool, decision, language), count in sorted(dev.decisions.items()):
                point(decisions, float(count), tool_name=tool, decision=decision,
                      source="config" if decision == "accept" else "user_reject", language=language)  # fmt: skip
                if decision == "accept":
                    tally.accepts += count
                else:
                    tally.rejects += count
        if dev.active_user_s or dev.active_cli_s:
            active = metric("claude_code.active_time.total", "s")
            point(active, dev.active_user_s, type="user")
            point(active, round(dev.active_cli_s, 3), type="cli")
        dev.lines_added = dev.lines_removed = 0
        dev.active_user_s = dev.active_cli_s = 0.0
        dev.decisions.clear()
        dev.cost_micros.clear()
        dev.tokens.clear()
        dev.session_left -= 1
        return message, tally

    def items_per_developer_minute(self, windows: int = 240) -> float:
        """Points + records a developer sends per minute at the default export intervals (a fresh sample)."""
        sample = Workload(200, "grpc", "client", seed=self.rng.randint(0, 1 << 30), activity=self.activity)
        items = 0
        for request in sample.requests():
            items += request.tally.items
            if sample.window >= windows:
                break
        return items / 200 / (windows * LOG_INTERVAL_S / 60)


def _merged(signal: str, parts: list[Any]) -> ExportMetricsServiceRequest | ExportLogsServiceRequest:
    """One request carrying the resources of all `parts`, as a gateway collector batches them."""
    if signal == "metrics":
        metrics = ExportMetricsServiceRequest()
        for part in parts:
            metrics.resource_metrics.extend(part.resource_metrics)
        return metrics
    logs = ExportLogsServiceRequest()
    for part in parts:
        logs.resource_logs.extend(part.resource_logs)
    return logs


# ---------------------------------------------------------------------------------------------- sending


@dataclass(slots=True)
class Answer:
    status: str  # "OK" / "200" on success, else the HTTP status, the gRPC code name or the transport error
    ok: bool
    retry_after: str | None = None


class GrpcSender:
    def __init__(self, url: str, headers: dict[str, str], timeout_s: float) -> None:
        import grpc

        self._grpc = grpc
        secure = url.startswith("https://")
        target = url.split("://", 1)[-1].rstrip("/")
        options = [("grpc.max_send_message_length", 64 * 1024 * 1024)]
        self._channel = (
            grpc.aio.secure_channel(target, grpc.ssl_channel_credentials(), options=options)
            if secure
            else grpc.aio.insecure_channel(target, options=options)
        )
        self._methods: dict[str, grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]] = {
            signal: self._channel.unary_unary(path) for signal, path in _GRPC_METHODS.items()
        }
        self._metadata = tuple((key.lower(), value) for key, value in headers.items())
        self._timeout_s = timeout_s

    async def send(self, request: Request) -> Answer:
        try:
            await self._methods[request.signal](request.body, metadata=self._metadata, timeout=self._timeout_s)
            return Answer("OK", True)
        except self._grpc.aio.AioRpcError as exc:
            trailing = dict(exc.trailing_metadata() or ())
            return Answer(exc.code().name, False, trailing.get("retry-after"))

    async def close(self) -> None:
        await self._channel.close()


class HttpSender:
    def __init__(self, url: str, headers: dict[str, str], timeout_s: float, connections: int) -> None:
        import httpx

        self._httpx = httpx
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self._client = httpx.AsyncClient(base_url=url.rstrip("/"), headers=headers, timeout=timeout_s, limits=limits)

    async def send(self, request: Request) -> Answer:
        try:
            response = await self._client.post(
                f"/v1/{request.signal}", content=request.body, headers={"content-type": request.content_type}
            )
        except self._httpx.TimeoutException:
            return Answer("timeout", False)
        except self._httpx.HTTPError as exc:
            return Answer(type(exc).__name__, False)
        return Answer(str(response.status_code), response.is_success, response.headers.get("retry-after"))

    async def close(self) -> None:
        await self._client.aclose()


def sender_for(protocol: str, url: str, headers: dict[str, str], timeout_s: float, connections: int):
    if protocol == "grpc":
        return GrpcSender(url, headers, timeout_s)
    return HttpSender(url, headers, timeout_s, connections)


@dataclass
class RunResult:
    protocol: str
    shape: str
    developers: int
    elapsed_s: float = 0.0
    sent: int = 0  # requests attempted (retries not counted again)
    succeeded: int = 0
    failed: int = 0
    attempts: Counter = field(default_factory=Counter)  # answer status -> count, every attempt
    retry_after: Counter = field(default_factory=Counter)  # refusal status -> answers that carried Retry-After
    latencies_s: array = field(default_factory=lambda: array("d"))  # per successful attempt
    accepted: Tally = field(default_factory=Tally)
    first_ack_s: float = 0.0
    last_ack_s: float = 0.0

    def percentile_ms(self, fraction: float) -> float:
        if not self.latencies_s:
            return float("nan")
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000

    def summary(self) -> dict[str, Any]:
        elapsed = self.last_ack_s or self.elapsed_s or 1e-9
        return {
            "protocol": self.protocol,
            "shape": self.shape,
            "developers": self.developers,
            "elapsed_s": round(self.elapsed_s, 3),
            "requests_sent": self.sent,
            "requests_ok": self.succeeded,
            "requests_failed": self.failed,
            "requests_per_s": round(self.succeeded / elapsed, 1),
            "items_per_s": round(self.accepted.items / elapsed, 1),
            "points": self.accepted.points,
            "records": self.accepted.records,
            "latency_p50_ms": round(self.percentile_ms(0.50), 2),
            "latency_p99_ms": round(self.percentile_ms(0.99), 2),
            "answers": dict(self.attempts),
            "refusals_with_retry_after": dict(self.retry_after),
            "totals": self.accepted.figures(),
        }


class Progress:
    """A one-line progress bar on stderr (a line every few seconds when stderr is not a terminal)."""

    def __init__(self, label: str, total_s: float | None, total_requests: int | None, enabled: bool = True) -> None:
        self.label = label
        self.total_s = total_s
        self.total_requests = total_requests
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self._last_line = 0.0

    def show(self, elapsed: float, result: RunResult, final: bool = False) -> None:
        if not self.enabled:
            return
        if not self.tty and not final and time.monotonic() - self._last_line < 5:
            return
        self._last_line = time.monotonic()
        if self.total_requests:
            fraction = result.sent / self.total_requests
        elif self.total_s:
            fraction = elapsed / self.total_s
        else:
            fraction = 0.0
        fraction = max(0.0, min(1.0, fraction))
        bar = "#" * int(fraction * 24) + "." * (24 - int(fraction * 24))
        errors = sum(count for status, count in result.attempts.items() if status not in ("OK", "200"))
        rate = result.accepted.items / elapsed if elapsed > 0 else 0
        line = (
            f"{self.label} [{bar}] {elapsed:5.1f}s  req {result.succeeded} ok / {result.sent} sent  "
            f"{rate:,.0f} items/s  refused/errors {errors}"
        )
        end = "\n" if final or not self.tty else ""
        sys.stderr.write(("\r" if self.tty else "") + line + end)
        sys.stderr.flush()


async def run(
    requests: Iterable[Request],
    *,
    url: str,
    protocol: str,
    shape: str = "client",
    developers: int = 0,
    rate: str | float = "max",
    duration_s: float | None = None,
    total_requests: int | None = None,
    concurrency: int = 64,
    headers: dict[str, str] | None = None,
    retry: bool = True,
    max_attempts: int = 20,
    timeout_s: float = 30.0,
    progress: bool = True,
    label: str = "loadgen",
) -> RunResult:
    """Send `requests` (until exhausted, `duration_s` or `total_requests`) and tally the acknowledged ones.

    rate: "max" (as fast as they are accepted, `concurrency` in flight), "realtime" (each request when a
    real population would send it), or a number of requests per second (open loop, up to `concurrency`).
    Refusals that ask for a retry (429, 503, RESOURCE_EXHAUSTED, UNAVAILABLE) are retried with the same
    bytes after their Retry-After (at most 2 s), as the OTel exporters do, unless `retry` is False.
    """
    sender = sender_for(protocol, url, headers or {}, timeout_s, concurrency)
    result = RunResult(protocol, shape, developers)
    iterator = iter(requests)
    bar = Progress(label, duration_s, total_requests, progress)
    start = time.perf_counter()
    deadline = start + duration_s if duration_s else None
    counter = 0
    per_second = float(rate) if rate not in ("max", "realtime") else 0.0

    async def deliver(request: Request) -> None:
        for attempt in range(max_attempts):
            began = time.perf_counter()
            answer = await sender.send(request)
            result.attempts[answer.status] += 1
            if answer.ok:
                now = time.perf_counter()
                result.latencies_s.append(now - began)
                result.succeeded += 1
                result.accepted.add(request.tally)
                result.last_ack_s = now - start
                result.first_ack_s = result.first_ack_s or result.last_ack_s
                return
            if answer.retry_after is not None:
                result.retry_after[answer.status] += 1
            retryable = answer.status in _RETRYABLE_HTTP or (
                answer.status in _RETRYABLE_GRPC and (answer.retry_after is not None or answer.status == "UNAVAILABLE")
            )
            if not (retry and retryable) or attempt == max_attempts - 1:
                break
            try:
                wait = float(answer.retry_after) if answer.retry_after else 0.5
            except ValueError:
                wait = 0.5
            await asyncio.sleep(min(wait, 2.0) * (0.5 + random.random()))
        result.failed += 1

    async def worker() -> None:
        nonlocal counter
        while True:
            if deadline is not None and time.perf_counter() >= deadline:
                return
            if total_requests is not None and counter >= total_requests:
                return
            try:
                request = next(iterator)
            except StopIteration:
                return
            index = counter
            counter += 1
            due = request.due_s if rate == "realtime" else (index / per_second if per_second else None)
            if due is not None:
                delay = start + due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                if deadline is not None and time.perf_counter() >= deadline:
                    return
            result.sent += 1
            await deliver(request)

    async def report() -> None:
        while True:
            await asyncio.sleep(0.5)
            bar.show(time.perf_counter() - start, result)

    reporter = asyncio.create_task(report())
    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        reporter.cancel()
        result.elapsed_s = time.perf_counter() - start
        bar.show(result.elapsed_s, result, final=True)
        await sender.close()
    return result


# ---------------------------------------------------------------------------------------------- command line


def parse_duration(text: str) -> float:
    text = text.strip().lower()
    for suffix, factor in (("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)):
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "", 1).isdigit():
            return float(text[: -len(suffix)]) * factor
    return float(text)


def _headers(values: list[str]) -> dict[str, str]:
    headers = {}
    for value in values:
        for part in value.split(","):
            if "=" in part:
                key, _, item = part.partition("=")
                headers[key.strip()] = item.strip()
    return headers


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cc-analytics loadgen",
        description="Replay realistic Claude Code telemetry (N simulated developers) against an OTLP endpoint.",
    )
    parser.add_argument("--url", help="OTLP endpoint (default http://127.0.0.1:4317 for grpc, :4318 for http/*)")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="grpc")
    parser.add_argument("--shape", choices=SHAPES, default="client",
                        help="client: each developer's own requests; gateway: batched as a collector in front would")  # fmt: skip
    parser.add_argument("--developers", type=int, default=100)
    parser.add_argument("--duration", default="60s", help="how long to send, e.g. 60s, 5m (default 60s)")
    parser.add_argument("--rate", default="realtime",
                        help="realtime (default export intervals: 60 s metrics, 5 s logs), max (as fast as accepted) "
                             "or requests per second")  # fmt: skip
    parser.add_argument("--concurrency", type=int, default=128, help="requests in flight at most")
    parser.add_argument("--gateway-batch", type=int, default=50, help="client exports per gateway request")
    parser.add_argument("--header", action="append", default=[],
                        help="request header, e.g. 'Authorization=Bearer <token>' (repeatable, or comma list)")  # fmt: skip
    parser.add_argument("--headers-from-env", action="store_true",
                        help="also send OTEL_EXPORTER_OTLP_HEADERS, as a Claude Code client would")  # fmt: skip
    parser.add_argument("--no-retry", action="store_true", help="do not retry 429 / RESOURCE_EXHAUSTED / 503")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout in seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _print_summary(summary: dict[str, Any], out=sys.stdout) -> None:
    totals = summary["totals"]
    answers = ", ".join(f"{status}: {count}" for status, count in sorted(summary["answers"].items())) or "none"
    lines = [
        f"protocol {summary['protocol']}, shape {summary['shape']}, {summary['developers']} developers, "
        f"{summary['elapsed_s']} s",
        f"requests: {summary['requests_ok']} acknowledged of {summary['requests_sent']} sent, "
        f"{summary['requests_failed']} failed  ({summary['requests_per_s']:,} req/s)",
        f"points+records: {summary['points'] + summary['records']:,} ({summary['points']:,} points, "
        f"{summary['records']:,} records)  {summary['items_per_s']:,} /s",
        f"latency: p50 {summary['latency_p50_ms']} ms, p99 {summary['latency_p99_ms']} ms",
        f"answers by status: {answers}",
        f"refusals carrying Retry-After: {summary['refusals_with_retry_after'] or 'none'}",
        "acknowledged totals (what the API must show): " + ", ".join(f"{key} {value}" for key, value in totals.items()),
    ]
    print("\n".join(lines), file=out)


def main(argv: list[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    import os

    url = arguments.url or ("http://127.0.0.1:4317" if arguments.protocol == "grpc" else "http://127.0.0.1:4318")
    headers = _headers(arguments.header)
    if arguments.headers_from_env and os.environ.get("OTEL_EXPORTER_OTLP_HEADERS"):
        headers = {**_headers([os.environ["OTEL_EXPORTER_OTLP_HEADERS"]]), **headers}
    rate: str | float = arguments.rate
    if rate not in ("max", "realtime"):
        try:
            rate = float(rate)
        except ValueError:
            print("cc-analytics loadgen: --rate must be realtime, max or a number", file=sys.stderr)
            return 2
    workload = Workload(arguments.developers, arguments.protocol, arguments.shape, arguments.gateway_batch,
                        seed=arguments.seed)  # fmt: skip
    result = asyncio.run(
        run(
            workload.requests(),
            url=url,
            protocol=arguments.protocol,
            shape=arguments.shape,
            developers=arguments.developers,
            rate=rate,
            duration_s=parse_duration(arguments.duration),
            concurrency=arguments.concurrency,
            headers=headers,
            retry=not arguments.no_retry,
            timeout_s=arguments.timeout,
            progress=not arguments.quiet,
        )
    )
    summary = result.summary()
    if arguments.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_summary(summary)
    return 0 if result.succeeded and not result.failed else 1


if __name__ == "__main__":
    sys.exit(main())
