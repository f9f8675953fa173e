"""Pipeline data: what flows from the receiver through the processors to the exporters."""

from pdata.model import (
    CUMULATIVE,
    DELTA,
    UNSPECIFIED,
    Batch,
    EventFact,
    LogEvent,
    Member,
    MetricPoint,
    PointFact,
    Sender,
)
from pdata.store import FactWriter, NamedQueries, QueryFailed, SharedStateLookups, StoreRefused, StoreUnavailable

__all__ = [
    "DELTA",
    "CUMULATIVE",
    "UNSPECIFIED",
    "Batch",
    "EventFact",
    "LogEvent",
    "Member",
    "MetricPoint",
    "PointFact",
    "Sender",
    "FactWriter",
    "NamedQueries",
    "SharedStateLookups",
    "StoreRefused",
    "StoreUnavailable",
    "QueryFailed",
]
