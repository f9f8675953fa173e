"""GET /v1/organizations/usage_report/claude_code: Anthropic's Claude Code Analytics Admin API, served from
the hourly rollups so scripts written for Anthropic's endpoint run here by changing base URL and key.

Mapping (README.md, "Admin-API-compatible report", documents it for operators):
- actor: email members → user_actor{email_address}; api_key members → api_actor{api_key_name = the
  api_key_id bound to the ingest token}; account members (no email sent) → user_actor whose
  email_address is the account id; anonymous members → api_actor whose api_key_name is the raw user.id
  (Claude Code sends no identity for API-key users whose token is not bound to a key).
- customer_type: "api" for api_key and anonymous members, "subscription" for signed-in users. Telemetry
  does not say how a signed-in user is billed, so this is a convention, not a fact.
- subscription_type: always null and is_remote: always false; telemetry carries neither.
- terminal_type: the terminal.type seen most that day ("unknown" when none was sent).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from console.params import BadParameter, check_storable
from console.together import both
from pdata.store import NamedQueries
from pdata.vocabulary import CODE_EDIT_TOOLS

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000

# Anthropic's tool_actions keys; every record carries one per code-editing tool (a tool added to
# CODE_EDIT_TOOLS without its key here stops the import).
_ANTHROPIC_TOOL_KEYS = {
    "Edit": "edit_tool",
    "MultiEdit": "multi_edit_tool",
    "Write": "write_tool",
    "NotebookEdit": "notebook_edit_tool",
}
TOOL_KEYS: dict[str, str] = {tool: _ANTHROPIC_TOOL_KEYS[tool] for tool in CODE_EDIT_TOOLS}

Key = tuple[str, str, str]  # (member_type, member, organization_id): the keyset order of records


class ReportRequestError(ValueError):
    """A parameter Anthropic's endpoint would refuse: answered as 400 invalid_request_error."""


@dataclass(frozen=True, slots=True)
class ReportRequest:
    day: date
    limit: int
    after: Key | None


def _count(value: float) -> int | float:
    value = float(value)
    return int(value) if value.is_integer() else round(value, 9)


def encode_cursor(day: date, key: Key) -> str:
    raw = json.dumps({"v": 1, "d": day.isoformat(), "k": list(key)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str, day: date) -> Key:
    problem = ReportRequestError("page is not a next_page value returned by this endpoint")
    if len(text) > 4096:
        raise problem
    try:
        claims = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        key = claims["k"]
        if claims.get("v") != 1 or not isinstance(key, list) or len(key) != 3:
            raise problem
        if not all(isinstance(part, str) for part in key):
            raise problem
        cursor_day = date.fromisoformat(claims["d"])
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise problem from None
    if cursor_day != day:
        raise ReportRequestError("page belongs to another starting_at; start again without page")
    return key[0], key[1], key[2]


def parse_request(params: dict[str, str]) -> ReportRequest:
    text = params.get("starting_at")
    if not text:
        raise ReportRequestError("starting_at is required (a UTC date as YYYY-MM-DD)")
    try:
        if len(text) != 10:
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError:
        raise ReportRequestError(f"starting_at must be a UTC date as YYYY-MM-DD, got {text[:40]!r}") from None
    try:
        check_storable("starting_at", day)
    except BadParameter as exc:
        raise ReportRequestError(str(exc)) from None
    limit_text = params.get("limit")
    limit = DEFAULT_LIMIT
    if limit_text not in (None, ""):
        if not limit_text.isdigit() or len(limit_text) > 7:
            raise ReportRequestError(f"limit must be an integer from 1 to {MAX_LIMIT}, got {limit_text[:40]!r}")
        limit = int(limit_text)
        if not 1 <= limit <= MAX_LIMIT:
            raise ReportRequestError(f"limit must be an integer from 1 to {MAX_LIMIT}, got {limit}")
    page = params.get("page")
    after = decode_cursor(page, day) if page else None
    return ReportRequest(day=day, limit=limit, after=after)


def _actor(member_type: str, member: str) -> dict[str, str]:
    if member_type in ("email", "account"):
        return {"type": "user_actor", "email_address": member}
    return {"type": "api_actor", "api_key_name": member}


def _empty_tools() -> dict[str, dict[str, int | float]]:
    return {key: {"accepted": 0, "rejected": 0} for key in TOOL_KEYS.values()}


def usage_report(store: NamedQueries, request: ReportRequest) -> dict[str, Any]:
    start = datetime(request.day.year, request.day.month, request.day.day)
    bounds = {"start": start, "end": start + timedelta(days=1)}
    after = request.after or ("", "", "")
    rows = store.query_named(
        "report_actors",
        {
            **bounds,
            "first": 1 if request.after is None else 0,
            "after_type": after[0],
            "after_member": after[1],
            "after_org": after[2],
            "limit": request.limit + 1,  # one more than asked tells whether there is a next page
        },
    )
    has_more = len(rows) > request.limit
    rows = rows[: request.limit]
    if not rows:
        return {"data": [], "has_more": False, "next_page": None}

    def key(row: dict[str, Any]) -> Key:
        return str(row["member_type"]), str(row["member"]), str(row["organization_id"])

    page = {**bounds, "members": sorted({str(row["member"]) for row in rows})}
    # The page's terminals beside its tools and models: independent reads, the terminals' the longest.
    (tool_rows, model_rows), terminal_rows = both(
        lambda: (store.query_named("report_tools", page), store.query_named("report_models", page)),
        lambda: store.query_named("report_terminals", page),
    )
    tools: dict[Key, dict[str, dict[str, int | float]]] = {}
    for row in tool_rows:
        name = TOOL_KEYS.get(str(row["tool_name"]))
        if name is None:
            continue
        actions = tools.setdefault(key(row), _empty_tools())
        actions[name] = {"accepted": _count(row["accepted"]), "rejected": _count(row["rejected"])}
    models: dict[Key, list[dict[str, Any]]] = {}
    for row in model_rows:
        models.setdefault(key(row), []).append(
            {
                "model": str(row["model"]) or "unknown",
                "tokens": {
                    "input": _count(row["input_tokens"]),
                    "output": _count(row["output_tokens"]),
                    "cache_read": _count(row["cache_read_tokens"]),
                    "cache_creation": _count(row["cache_creation_tokens"]),
                },
                # Anthropic reports minor units: US cents.
                "estimated_cost": {"amount": round(float(row["spend_usd"]) * 100, 6), "currency": "USD"},
            }
        )
    terminals = {key(row): (row["terminals"][0] if row["terminals"] else "unknown") for row in terminal_rows}
    data = []
    for row in rows:
        member_type = str(row["member_type"])
        data.append(
            {
                "date": f"{request.day.isoformat()}T00:00:00Z",
                "actor": _actor(member_type, str(row["member"])),
                "organization_id": str(row["organization_id"]),
                "customer_type": "subscription" if member_type in ("email", "account") else "api",
                "subscription_type": None,
                "terminal_type": terminals.get(key(row), "unknown"),
                "is_remote": False,
                "core_metrics": {
                    "num_sessions": int(row["num_sessions"]),
                    "lines_of_code": {"added": _count(row["lines_added"]), "removed": _count(row["lines_removed"])},
                    "commits_by_claude_code": _count(row["commits"]),
                    "pull_requests_by_claude_code": _count(row["pull_requests"]),
                },
                "tool_actions": tools.get(key(row), _empty_tools()),
                "model_breakdown": models.get(key(row), []),
            }
        )
    next_page = encode_cursor(request.day, key(rows[-1])) if has_more else None
    return {"data": data, "has_more": has_more, "next_page": next_page}
