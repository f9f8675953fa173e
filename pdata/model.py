"""Plain data types shared by every component. No behaviour beyond construction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# OTLP AggregationTemporality values.
UNSPECIFIED = 0
DELTA = 1
CUMULATIVE = 2

Signal = Literal["metrics", "logs"]
MemberKind = Literal["email", "api_key", "account", "anonymous"]


@dataclass(frozen=True, slots=True)
class Sender:
    """Who delivered a request: the ingest token's binding, when the operator configured one."""

    token_name: str = ""
    api_key_id: str = ""
    organization_id: str = ""


@dataclass(frozen=True, slots=True)
class Member:
    """The person or key a record belongs to (see ARCHITECTURE.md, Semantics)."""

    member: str
    kind: MemberKind
    organization_id: str = ""
    team: str = ""


@dataclass(slots=True)
class MetricPoint:
    """One number data point of a sum or gauge, attributes flattened to strings."""

    metric: str
    unit: str
    temporality: int
    monotonic: bool
    start_ns: int
    time_ns: int
    value: float
    attributes: dict[str, str]
    resource: dict[str, str]
    scope: str = ""


@dataclass(slots=True)
class LogEvent:
    """One OTLP log record; Claude Code events carry their name in `event.name`."""

    time_ns: int
    name: str
    body: str
    attributes: dict[str, str]
    resource: dict[str, str]
    scope: str = ""
    severity: str = ""


@dataclass(slots=True)
class Batch:
    """One accepted OTLP request, decoded and flattened."""

    signal: Signal
    digest: bytes
    sender: Sender
    received_ns: int
    points: list[MetricPoint] = field(default_factory=list)
    events: list[LogEvent] = field(default_factory=list)
    rejected: int = 0
    rejected_reason: str = ""
    # The value policy has already removed what it refuses (a durable queue's record is screened before its
    # append): the chain does not screen it again.
    screened: bool = False

    @property
    def size(self) -> int:
        return len(self.points) + len(self.events)


@dataclass(slots=True)
class PointFact:
    """A stored point: the delta a point contributes, its member and the analytics fact it feeds."""

    point: MetricPoint
    member: Member
    delta: float
    series_key: int
    fact: str
    tool_name: str
    digest: bytes
    received_ns: int


@dataclass(slots=True)
class EventFact:
    """A stored event with its member; content attributes removed unless the operator opted in."""

    event: LogEvent
    member: Member
    attributes: dict[str, str]
    digest: bytes
    received_ns: int
    tool_name: str = ""  # `tool_name`, or `tool` from older clients
