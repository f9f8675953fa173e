"""CSV renderings of the daily series and of team insights (same figures as the JSON endpoints)."""

from __future__ import annotations

import csv
import io
from typing import Any

DAY_COLUMNS = (
    "date", "accepted_lines", "removed_lines", "accepts", "rejects", "acceptance_rate",
    "active_users", "sessions", "spend_usd",
)  # fmt: skip
TEAM_COLUMNS = ("member", "member_type", "spend_usd", "accepted_lines", "sessions", "last_active")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    # A member name is sender-controlled text: keep spreadsheets from running it as a formula.
    if isinstance(value, str) and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def _render(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return buffer.getvalue()


def analytics_csv(view: dict[str, Any]) -> str:
    return _render(DAY_COLUMNS, view["days"])


def team_csv(view: dict[str, Any]) -> str:
    return _render(TEAM_COLUMNS, view["members"])
