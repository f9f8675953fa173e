"""What a queue record holds: one accepted request's Batch, as JSON (format version 1 of collector/wal/frame.py).

Explicit rather than pickled, so a record names its fields and an upgrade can read an older one. The Batch is
the one answered at append time: after the value-policy screen and the privacy filter, with its digest (a
replay is recognised by it) and its arrival time (the policy, the dedup window and the series state expire by
it). A request's points share their resource: it is written once per record and shared again when read, as
the decoder shares it.

Format version 1: a fixed prefix, read without parsing the rest (start-up only needs it to know what is
pending), then a JSON object:

    received_ns (u64 LE) | points + events (u32 LE) | digest length (1 byte) | digest
    {"signal", "sender": [token_name, api_key_id, organization_id], "rejected", "rejected_reason",
     "resources": [{key: value}],
     "points": [[metric, unit, temporality, monotonic, start_ns, time_ns, value, attributes, resource index,
                 scope]],
     "events": [[time_ns, name, body, attributes, resource index, scope, severity]]}
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from typing import Any

import orjson

from pdata import Batch, LogEvent, MetricPoint, Sender

_PREFIX = struct.Struct("<QIB")


@dataclass(frozen=True, slots=True)
class Summary:
    """What start-up reads of each pending record: enough to answer a retry and to bound the queue."""

    digest: bytes
    received_ns: int
    items: int  # points + events


def encode(batch: Batch) -> bytes:
    resources: list[dict[str, str]] = []
    index_of: dict[int, int] = {}

    def resource_index(resource: dict[str, str]) -> int:
        index = index_of.get(id(resource))
        if index is None:
            index = index_of[id(resource)] = len(resources)
            resources.append(resource)
        return index

    document = {
        "signal": batch.signal,
        "sender": [batch.sender.token_name, batch.sender.api_key_id, batch.sender.organization_id],
        "rejected": batch.rejected,
        "rejected_reason": batch.rejected_reason,
        "points": [
            [
                p.metric,
                p.unit,
                p.temporality,
                p.monotonic,
                p.start_ns,
                p.time_ns,
                p.value,
                p.attributes,
                resource_index(p.resource),
                p.scope,
            ]
            for p in batch.points
        ],  # fmt: skip
        "events": [
            [e.time_ns, e.name, e.body, e.attributes, resource_index(e.resource), e.scope, e.severity]
            for e in batch.events
        ],
        "resources": resources,
    }
    prefix = _PREFIX.pack(batch.received_ns, batch.size, len(batch.digest)) + batch.digest
    return prefix + _json(document, batch.points)


def _json(document: dict[str, Any], points: list[MetricPoint]) -> bytes:
    """The document as compact UTF-8 JSON. orjson writes the same bytes as the standard library's compact form
    several times as fast (each record is encoded by a receiver and decoded by the writer), but it writes NaN and
    Infinity as null and refuses what JSON cannot hold (integers past 64 bits). Non-finite values are screened
    out of Claude Code's counters, not of every metric: the standard library's NaN and Infinity extension keeps
    them as the direct path would."""
    if all(math.isfinite(point.value) for point in points):
        try:
            return orjson.dumps(document)
        except orjson.JSONEncodeError:
            pass
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def _loads(text: bytes) -> Any:
    """orjson reads what _json wrote with it; a record with NaN or Infinity (or any JSON orjson refuses) is read
    by the standard library, whose ValueError says what is wrong with one that is no JSON at all."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def summary(payload: bytes) -> Summary:
    """Raises ValueError for a payload too short to be a record's."""
    if len(payload) < _PREFIX.size:
        raise ValueError("not a queued request: shorter than its prefix")
    received_ns, items, digest_length = _PREFIX.unpack_from(payload)
    end = _PREFIX.size + digest_length
    if len(payload) < end:
        raise ValueError("not a queued request: shorter than its digest")
    return Summary(payload[_PREFIX.size : end], received_ns, items)


def decode(payload: bytes) -> Batch:
    """Raises ValueError (json's, or a KeyError/IndexError/TypeError wrapped) for a payload that is no Batch."""
    head = summary(payload)
    try:
        document: dict[str, Any] = _loads(payload[_PREFIX.size + len(head.digest) :])
        resources: list[dict[str, str]] = document["resources"]
        token_name, api_key_id, organization_id = document["sender"]
        return Batch(
            signal=document["signal"],
            digest=head.digest,
            sender=Sender(token_name, api_key_id, organization_id),
            received_ns=head.received_ns,
            points=[
                MetricPoint(
                    metric,
                    unit,
                    int(temporality),
                    bool(monotonic),
                    int(start_ns),
                    int(time_ns),
                    float(value),
                    attributes,
                    resources[resource],
                    scope,
                )
                for metric, unit, temporality, monotonic, start_ns, time_ns, value, attributes, resource, scope in document[
                    "points"
                ]
            ],  # fmt: skip
            events=[
                LogEvent(int(time_ns), name, body, attributes, resources[resource], scope, severity)
                for time_ns, name, body, attributes, resource, scope, severity in document["events"]
            ],
            rejected=int(document["rejected"]),
            rejected_reason=document["rejected_reason"],
            screened=True,  # every record is screened before its append (prepare.py)
        )
    except (KeyError, IndexError, TypeError) as exc:
        raise ValueError(f"not a queued request: {type(exc).__name__}: {exc}") from None
