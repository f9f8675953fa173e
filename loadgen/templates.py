"""One minute of a population's Claude Code exports, encoded once and sent again every minute with fresh timestamps.

Building a request (protobuf messages assembled in Python) costs ~160 µs, more than sending it; a real-time run
of 10 000 developers would spend a good part of a core on it, on the machine it measures. So the population's
first minute (the metric export interval: one metric export and a log export per 5 s window it was active, for
each developer) is built by `Workload` once, and replayed every minute. Each send shifts every timestamp of the
request (`time_unix_nano`, `observed_time_unix_nano`, `start_time_unix_nano`) by the same amount, so its newest
one is the moment it is sent: the bytes, hence the request digest, are new each time, and each replay adds its
template's tally again (delta sums add up; distinct members and sessions are the same ones).

Only the timestamps change: a developer keeps its session, and its events their ids, over the run.
"""

from __future__ import annotations

import random
import re
import struct
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from loadgen.tally import Tally
from loadgen.workload import METRIC_INTERVAL_S, WINDOWS_PER_METRIC_EXPORT, Request, Workload

CYCLE_S = METRIC_INTERVAL_S
# Developers built per Workload: a population grows by chunks, so a larger one reuses the smaller one's.
CHUNK = 1000

_U64 = struct.Struct("<Q")
# The tag byte before each fixed64 timestamp: LogRecord.time_unix_nano (1), observed_time_unix_nano (11),
# NumberDataPoint.start_time_unix_nano (2), time_unix_nano (3).
_TIMESTAMP_TAGS = frozenset({0x09, 0x59, 0x11, 0x19})
_JSON_TIMESTAMP = re.compile(rb'"(?:timeUnixNano|observedTimeUnixNano|startTimeUnixNano)":"(\d{19})"')


@dataclass(slots=True)
class Template:
    developer: int
    offset_s: float  # when in the minute this developer sends it
    signal: str
    content_type: str
    body: bytes
    stamps: tuple[tuple[int, int], ...]  # (byte offset, nanoseconds written there)
    newest_ns: int
    tally: Tally
    json: bool

    def stamped(self, now_ns: int) -> bytes:
        """The body with every timestamp moved so that the newest is `now_ns`."""
        shift = now_ns - self.newest_ns
        body = bytearray(self.body)
        if self.json:
            for offset, value in self.stamps:
                body[offset : offset + 19] = b"%019d" % (value + shift)
        else:
            for offset, value in self.stamps:
                _U64.pack_into(body, offset, value + shift)
        return bytes(body)

    def request(self, now_ns: int | None = None) -> Request:
        body = self.stamped(time.time_ns() if now_ns is None else now_ns)
        return Request(self.signal, body, self.content_type, self.tally, self.offset_s, self.developer)


def _protobuf_stamps(signal: str, body: bytes) -> list[tuple[int, int]]:
    values: set[int] = set()
    if signal == "logs":
        logs = ExportLogsServiceRequest.FromString(body)
        for resource_logs in logs.resource_logs:
            for scope in resource_logs.scope_logs:
                for record in scope.log_records:
                    values.update((record.time_unix_nano, record.observed_time_unix_nano))
    else:
        metrics = ExportMetricsServiceRequest.FromString(body)
        for resource_metrics in metrics.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    for point in metric.sum.data_points:
                        values.update((point.start_time_unix_nano, point.time_unix_nano))
    stamps = []
    for value in values - {0}:
        pattern = _U64.pack(value)
        at = body.find(pattern)
        while at > 0:
            if body[at - 1] in _TIMESTAMP_TAGS:
                stamps.append((at, value))
            at = body.find(pattern, at + 1)
    return sorted(stamps)


def template_of(request: Request) -> Template:
    encoded_json = request.content_type == "application/json"
    if encoded_json:
        stamps = [(match.start(1), int(match.group(1))) for match in _JSON_TIMESTAMP.finditer(request.body)]
    else:
        stamps = _protobuf_stamps(request.signal, request.body)
    if not stamps:
        raise ValueError("a request without timestamps cannot be replayed as new")
    return Template(
        developer=request.developer,
        offset_s=request.due_s,
        signal=request.signal,
        content_type=request.content_type,
        body=request.body,
        stamps=tuple(stamps),
        newest_ns=max(value for _, value in stamps),
        tally=request.tally,
        json=encoded_json,
    )


class Population:
    """Developers 0 … N-1 of one organization, each with its exports of one minute (`templates(N)`)."""

    def __init__(self, protocol: str, seed: int = 1, organization: str = "") -> None:
        self.protocol = protocol
        self.seed = seed
        # One organization for every chunk (a Workload left to itself draws one of its own).
        self.organization = organization or str(uuid.UUID(int=random.Random(seed).getrandbits(128), version=4))
        self._chunks: list[list[Template]] = []

    def templates(self, developers: int) -> list[Template]:
        """The exports of the first `developers` developers over one minute, in the order they are due."""
        while len(self._chunks) * CHUNK < developers:
            self._chunks.append(self._build(len(self._chunks)))
        chosen = [t for chunk in self._chunks for t in chunk if t.developer < developers]
        return sorted(chosen, key=lambda template: template.offset_s)

    def _build(self, chunk: int) -> list[Template]:
        workload = Workload(CHUNK, self.protocol, "client", seed=self.seed * 7919 + chunk,
                            organization=self.organization, first_developer=chunk * CHUNK)  # fmt: skip
        built = []
        for request in workload.requests():
            if workload.window >= WINDOWS_PER_METRIC_EXPORT:
                break
            built.append(template_of(request))
        return built


def schedule(templates: list[Template], duration_s: float, speed: float = 1.0) -> Iterator[tuple[float, Template]]:
    """(seconds after start, template) of every send of a run of `duration_s`, in order: the minute repeated.
    `speed` > 1 plays a minute of exports in 60 / speed seconds (the tests' short runs)."""
    cycle = 0
    while True:
        for template in templates:
            due = (cycle * CYCLE_S + template.offset_s) / speed
            if due >= duration_s:
                return
            yield due, template
        cycle += 1
