"""Traffic shaped like Claude Code's: N simulated developers, one 5 s log window at a time, as OTLP requests.

Each developer behaves like the real CLI (see ../shared/fixtures/): delta temporality, identity attributes on
every point and record (not on the resource), a metric export every 60 s of simulated time and a log export
every 5 s in which the developer was active, with bursts of user_prompt / api_request / tool_decision /
tool_result / assistant_response events. Requests are encoded as OTLP protobuf or OTLP/JSON, either as each
client sends them (`client`: a few points per request) or as a gateway collector in front batches them
(`gateway`: hundreds of points per request).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from loadgen.tally import Tally
from pdata.vocabulary import CODE_EDIT_TOOLS

PROTOCOLS = ("grpc", "http/protobuf", "http/json")
SHAPES = ("client", "gateway")
METRIC_INTERVAL_S = 60.0  # OTEL_METRIC_EXPORT_INTERVAL default
LOG_INTERVAL_S = 5.0  # OTEL_LOGS_EXPORT_INTERVAL default
WINDOWS_PER_METRIC_EXPORT = int(METRIC_INTERVAL_S / LOG_INTERVAL_S)
VERSION = "2.1.331"
MODELS = ("claude-sonnet-4-5", "claude-opus-4-6[1m]", "claude-haiku-4-5")
TERMINALS = ("vscode", "iTerm.app", "tmux", "non-interactive", "cursor")
# Most code edits go through Edit and Write; MultiEdit (older clients) and NotebookEdit are rare.
EVERYDAY_EDIT_TOOLS = ("Edit", "Write")
RARE_EDIT_TOOLS = tuple(tool for tool in CODE_EDIT_TOOLS if tool not in EVERYDAY_EDIT_TOOLS)
OTHER_TOOLS = ("Read", "Bash", "Grep", "Glob")
LANGUAGES = ("Python", "TypeScript", "Go", "Rust", "Markdown")


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
    decisions: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (tool, decision, language) -> n
    cost_micros: Counter[str] = field(default_factory=Counter)  # model -> micro-USD
    tokens: Counter[tuple[str, str]] = field(default_factory=Counter)  # (model, type) -> n
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


def _scope(resources: Any, scopes_field: str, dev: Developer, name: str) -> Any:
    """A new resource of `dev` in a request's `resources` (resource_logs or resource_metrics), with one scope
    named `name` at Claude Code's version: that scope, for the records or metrics to go into."""
    resource = resources.add()
    _resource(resource.resource, dev)
    scope = getattr(resource, scopes_field).add()
    scope.scope.name = name
    scope.scope.version = VERSION
    return scope


@dataclass(slots=True)
class Request:
    signal: str  # metrics | logs
    body: bytes
    content_type: str
    tally: Tally
    due_s: float = 0.0  # seconds after start when a real-time client would send it
    developer: int = -1  # whose export it is (client shape); -1 for a gateway's batch of several


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
        first_developer: int = 0,
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
        # first_developer: several workloads of one organization make one population of distinct developers.
        self.developers = [
            _developer(index, self.rng, organization) for index in range(first_developer, first_developer + developers)
        ]
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
        pending: dict[str, list[tuple[Any, Tally, float, int]]] = {"metrics": [], "logs": []}
        count = len(self.developers)
        while True:
            for position, dev in enumerate(self.developers):
                due = (self.window + position / count) * LOG_INTERVAL_S
                if self.rng.random() < self.activity:
                    pending["logs"].append((*self._log_export(dev), due, dev.index))
                if (self.window + dev.index) % WINDOWS_PER_METRIC_EXPORT == 0:
                    export = self._metric_export(dev)
                    if export is not None:
                        pending["metrics"].append((*export, due, dev.index))
                for signal, items in pending.items():
                    if len(items) >= self.gateway_batch:
                        yield self._request(signal, items)
                        items.clear()
            self.window += 1

    def take(self, count: int) -> list[Request]:
        iterator = self.requests()
        return [next(iterator) for _ in range(count)]

    def _request(self, signal: str, exports: list[tuple[Any, Tally, float, int]]) -> Request:
        developer = -1
        if len(exports) == 1:
            message, tally, due, developer = exports[0]
        else:
            message = _merged(signal, [part for part, _, _, _ in exports])
            tally = Tally()
            for _, part_tally, _, _ in exports:
                tally.add(part_tally)
            tally.requests = 1
            due = exports[-1][2]
        if self.protocol == "http/json":
            body = json.dumps(json_format.MessageToDict(message), separators=(",", ":")).encode()
            content_type = "application/json"
        else:
            body = message.SerializeToString()
            content_type = "application/x-protobuf"
        return Request(signal, body, content_type, tally, due, developer)

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
        records = _scope(message.resource_logs, "scope_logs", dev, "com.anthropic.claude_code.events").log_records
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
                tool = rng.choice(EVERYDAY_EDIT_TOOLS if rng.random() < 0.6 else OTHER_TOOLS)
                if rng.random() < 0.02:
                    tool = rng.choice(RARE_EDIT_TOOLS)
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
        scope = _scope(message.resource_metrics, "scope_metrics", dev, "com.anthropic.claude_code")
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
