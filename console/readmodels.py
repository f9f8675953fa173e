"""The read models of the analytics and team answers: the store's named queries over the rollups, shaped into
plain data that the JSON API, the CSV export and the console page serve alike. The SQL stays with the store
(exporters/clickhouse/queries/); these only ask for it by name."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from console import daysummaries
from console.together import both
from pdata.store import NamedQueries

_COUNTS = ("accepted_lines", "removed_lines", "accepts", "rejects")


def _number(value: float) -> int | float:
    # Sums of counters are floats in storage; show whole numbers as integers.
    value = float(value)
    return int(value) if value.is_integer() else round(value, 9)


def _usd(value: float) -> float:
    return round(float(value), 9)


def acceptance_rate(accepts: float, rejects: float) -> float | None:
    decided = accepts + rejects
    return None if decided == 0 else accepts / decided


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The UTC datetimes the named queries take for the days `start` to `end`, both included."""
    return datetime(start.year, start.month, start.day), datetime(end.year, end.month, end.day) + timedelta(days=1)


def _filters(start: date, end: date, organization_id: str, team: str) -> dict[str, Any]:
    lower, upper = day_bounds(start, end)
    return {"start": lower, "end": upper, "organization_id": organization_id, "team": team}


def _shape(row: dict[str, Any]) -> dict[str, Any]:
    shaped: dict[str, Any] = {name: _number(row[name]) for name in _COUNTS}
    shaped["acceptance_rate"] = acceptance_rate(float(row["accepts"]), float(row["rejects"]))
    shaped["active_users"] = int(row["active_users"])
    shaped["sessions"] = int(row["sessions"])
    shaped["spend_usd"] = _usd(row["spend_usd"])
    return shaped


_IDLE = {
    "accepted_lines": 0, "removed_lines": 0, "accepts": 0, "rejects": 0, "acceptance_rate": None,
    "active_users": 0, "sessions": 0, "spend_usd": 0.0,
}  # fmt: skip


def analytics(store: NamedQueries, start: date, end: date, organization_id: str = "", team: str = "") -> dict[str, Any]:
    parameters = _filters(start, end, organization_id, team)
    totals = dict(_IDLE)
    by_day: dict[date, dict[str, Any]] = {}
    rows, by_tool_rows = both(
        lambda: _days_and_totals(store, start, end, parameters),
        lambda: store.query_named("acceptance_by_tool", parameters),
    )
    for row in rows:
        if row["whole_range"]:
            totals = _shape(row)
        else:
            by_day[row["day"]] = _shape(row)
    days = []
    day = start
    while day <= end:
        days.append({"date": day.isoformat(), **by_day.get(day, _IDLE)})
        day += timedelta(days=1)
    by_tool = {
        row["tool_name"]: {
            "accepts": _number(row["accepts"]),
            "rejects": _number(row["rejects"]),
            "acceptance_rate": acceptance_rate(float(row["accepts"]), float(row["rejects"])),
        }
        for row in by_tool_rows
    }
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "totals": totals,
        "acceptance_by_tool": by_tool,
        "days": days,
    }


def _days_and_totals(store: NamedQueries, start: date, end: date, parameters: dict[str, Any]) -> list[dict[str, Any]]:
    # Without a team filter the distinct members and sessions come from the day summaries when they can answer.
    rows = None if parameters["team"] else daysummaries.analytics_rows(store, start, end, parameters)
    if rows is None:
        rows = store.query_named("analytics_days_and_totals", parameters)
    return rows


def month_bounds(year: int, month: int) -> tuple[date, date]:
    first = date(year, month, 1)
    following = date(year + (month == 12), month % 12 + 1, 1)
    return first, following - timedelta(days=1)


def team(store: NamedQueries, year: int, month: int, organization_id: str = "", team_name: str = "") -> dict[str, Any]:
    first, last = month_bounds(year, month)
    rows = store.query("team_members", _filters(first, last, organization_id, team_name))
    # One row per active member (10 000 in a large organization): tuples, and last_active already a string.
    members = [
        {
            "member": member,
            "member_type": member_type,
            "spend_usd": _usd(spend_usd),
            "accepted_lines": _number(accepted_lines),
            "sessions": int(sessions),
            "last_active": last_active,
        }
        for member, member_type, spend_usd, accepted_lines, sessions, last_active in rows
    ]
    return {"month": f"{year:04d}-{month:02d}", "members": members}
