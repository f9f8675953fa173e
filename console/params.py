"""Query-parameter parsing shared by the JSON and CSV endpoints: bad input is a 400 with a reason."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from starlette.requests import Request

MAX_RANGE_DAYS = 400
# The rollups' DateTime('UTC') columns hold 1970-01-01 .. 2106-02-07; a day outside cannot be queried.
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(2105, 12, 31)


def check_storable(name: str, day: date) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise BadParameter(f"{name} must be between {FIRST_DAY} and {LAST_DAY}, got {day}")
    return day


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class BadParameter(ValueError):
    pass


def today() -> date:
    return datetime.now(UTC).date()


def parse_date(request: Request, name: str, default: date) -> date:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    problem = BadParameter(f"{name} must be a date as YYYY-MM-DD, got {text[:40]!r}")
    if len(text) != 10:
        raise problem
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise problem from None
    return check_storable(name, day)


def text(request: Request, name: str) -> str:
    value = request.query_params.get(name, "")
    if len(value) > 256:
        raise BadParameter(f"{name} is longer than 256 characters")
    return value


@dataclass(frozen=True, slots=True)
class Range:
    start: date
    end: date
    organization_id: str
    team: str


def parse_range(request: Request) -> Range:
    end = parse_date(request, "end", today())
    start = parse_date(request, "start", max(end - timedelta(days=29), FIRST_DAY))
    if start > end:
        raise BadParameter(f"start {start} is after end {end}")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise BadParameter(f"the range is longer than {MAX_RANGE_DAYS} days")
    return Range(start, end, text(request, "org"), text(request, "team"))


@dataclass(frozen=True, slots=True)
class Month:
    year: int
    month: int
    organization_id: str
    team: str


def parse_month(request: Request) -> Month:
    value = request.query_params.get("month") or today().strftime("%Y-%m")
    match = _MONTH.match(value)
    if not match or not 1 <= int(match.group(2)) <= 12 or not 1970 <= int(match.group(1)) <= LAST_DAY.year:
        raise BadParameter(f"month must be YYYY-MM, got {value[:40]!r}")
    return Month(int(match.group(1)), int(match.group(2)), text(request, "org"), text(request, "team"))
