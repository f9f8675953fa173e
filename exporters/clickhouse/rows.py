"""Facts to column-oriented insert data. The column lists mirror migrations/0001_raw_tables.sql."""

from __future__ import annotations

import math
from collections.abc import Sequence

from pdata import CUMULATIVE, EventFact, PointFact

POINT_COLUMNS = [
    "time", "start_time", "received_at", "organization_id", "member", "member_type", "team", "user_id",
    "session_id", "metric", "unit", "fact", "value", "temporality", "cumulative", "series_key", "type", "model",
    "tool_name", "decision", "source", "language", "query_source", "start_type", "terminal_type",
    "service_version", "attributes", "resource", "request_digest",
]  # fmt: skip

EVENT_COLUMNS = [
    "time", "received_at", "organization_id", "member", "member_type", "team", "user_id", "session_id",
    "event_name", "prompt_id", "sequence", "model", "tool_name", "decision", "source", "success", "cost_usd",
    "duration_ms", "input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens",
    "terminal_type", "service_version", "body", "attributes", "resource", "request_digest",
]  # fmt: skip

# Kept in their own columns (or in the member), so not repeated in the attributes map.
_IDENTITY_KEYS = frozenset({"user.id", "session.id", "user.email", "organization.id"})


def _number(text: str) -> float:
    # Claude Code sends some numbers as strings; a non-number is kept in attributes, counted as 0 here.
    try:
        number = float(text) if text else 0.0
    except ValueError:
        return 0.0
    # "inf" and "nan" parse as floats, but one of them in a sum would poison every figure built on it.
    return number if math.isfinite(number) else 0.0


_INT64 = range(-(2**63), 2**63)


def _integer(text: str) -> int:
    """An Int64 column's value: 0 for text that is no number or does not fit (the policy refuses such events
    before they get here; this keeps one odd value from failing a whole insert)."""
    try:
        number = int(float(text)) if text else 0
    except (ValueError, OverflowError):
        return 0
    return number if number in _INT64 else 0


def _rest(attributes: dict[str, str]) -> dict[str, str]:
    # A C-level copy and a few pops: the same keys in the same order as filtering key by key, faster.
    rest = attributes.copy()
    for key in _IDENTITY_KEYS:
        rest.pop(key, None)
    return rest


# Distinct attribute dicts whose stored map is kept for reuse within one insert's columns.
_MAX_SHARED_RESTS = 4_096


def _rest_of(attributes: dict[str, str], rests: dict[int, dict[str, str]]) -> dict[str, str]:
    """_rest(attributes), one map for the rows whose points share one attribute dict (as the decoders make the
    points of a request with equal attributes do). Keyed by identity: every fact, so every dict, outlives the
    columns being built, so no id is reused meanwhile."""
    rest = rests.get(id(attributes))
    if rest is None:
        rest = _rest(attributes)
        if len(rests) < _MAX_SHARED_RESTS:
            rests[id(attributes)] = rest
    return rest


def _ms(received_ns: int) -> int:
    return received_ns // 1_000_000


def _member_columns(
    facts: Sequence[PointFact] | Sequence[EventFact],
    received_at: list,
    organization_id: list,
    member: list,
    member_type: list,
    team: list,
) -> None:
    """The columns every row takes from its request and its member, points and events alike. One loop over a
    batch's facts, called once per batch (not once per row: the row loops are the insert's hot path)."""
    for item in facts:
        who = item.member
        received_at.append(_ms(item.received_ns))
        organization_id.append(who.organization_id)
        member.append(who.member)
        member_type.append(who.kind)
        team.append(who.team)


def point_columns(facts: Sequence[PointFact]) -> list[list]:
    columns: list[list] = [[] for _ in POINT_COLUMNS]
    (time, start_time, received_at, organization_id, member, member_type, team, user_id, session_id, metric,
     unit, fact, value, temporality, cumulative, series_key, type_, model, tool_name, decision, source,
     language, query_source, start_type, terminal_type, service_version, attributes, resource,
     request_digest) = columns  # fmt: skip
    _member_columns(facts, received_at, organization_id, member, member_type, team)
    rests: dict[int, dict[str, str]] = {}
    for item in facts:
        point = item.point
        attrs = point.attributes
        time.append(point.time_ns)
        start_time.append(point.start_ns)
        user_id.append(attrs.get("user.id") or point.resource.get("user.id", ""))
        session_id.append(attrs.get("session.id", ""))
        metric.append(point.metric)
        unit.append(point.unit)
        fact.append(item.fact)
        value.append(item.delta)
        temporality.append(point.temporality)
        cumulative.append(point.value if point.temporality == CUMULATIVE else 0.0)
        series_key.append(item.series_key)
        type_.append(attrs.get("type", ""))
        model.append(attrs.get("model", ""))
        tool_name.append(item.tool_name)
        decision.append(attrs.get("decision", ""))
        source.append(attrs.get("source", ""))
        language.append(attrs.get("language", ""))
        query_source.append(attrs.get("query_source", ""))
        start_type.append(attrs.get("start_type", ""))
        terminal_type.append(attrs.get("terminal.type") or point.resource.get("terminal.type", ""))
        service_version.append(point.resource.get("service.version", ""))
        attributes.append(_rest_of(attrs, rests))
        resource.append(point.resource)
        request_digest.append(item.digest)
    return columns


def event_columns(facts: Sequence[EventFact]) -> list[list]:
    columns: list[list] = [[] for _ in EVENT_COLUMNS]
    (time, received_at, organization_id, member, member_type, team, user_id, session_id, event_name,
     prompt_id, sequence, model, tool_name, decision, source, success, cost_usd, duration_ms, input_tokens,
     output_tokens, cache_read_tokens, cache_creation_tokens, terminal_type, service_version, body,
     attributes, resource, request_digest) = columns  # fmt: skip
    _member_columns(facts, received_at, organization_id, member, member_type, team)
    rests: dict[int, dict[str, str]] = {}
    for item in facts:
        event = item.event
        attrs = item.attributes
        time.append(event.time_ns)
        user_id.append(attrs.get("user.id") or event.resource.get("user.id", ""))
        session_id.append(attrs.get("session.id", ""))
        event_name.append(event.name)
        prompt_id.append(attrs.get("prompt.id", ""))
        sequence.append(_integer(attrs.get("event.sequence", "")))
        model.append(attrs.get("model", ""))
        tool_name.append(item.tool_name)
        decision.append(attrs.get("decision", ""))
        source.append(attrs.get("source", ""))
        success.append(attrs.get("success", ""))
        cost_usd.append(_number(attrs.get("cost_usd", "")))
        duration_ms.append(_number(attrs.get("duration_ms", "")))
        input_tokens.append(_number(attrs.get("input_tokens", "")))
        output_tokens.append(_number(attrs.get("output_tokens", "")))
        cache_read_tokens.append(_number(attrs.get("cache_read_tokens", "")))
        cache_creation_tokens.append(_number(attrs.get("cache_creation_tokens", "")))
        terminal_type.append(attrs.get("terminal.type") or event.resource.get("terminal.type", ""))
        service_version.append(event.resource.get("service.version", ""))
        body.append(event.body)
        attributes.append(_rest_of(attrs, rests))
        resource.append(event.resource)
        request_digest.append(item.digest)
    return columns
