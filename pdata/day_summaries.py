"""Day summaries: each UTC day's distinct members and sessions, kept so that a long range's exact distinct
counts need no pass over every id of the range.

A range's distinct sessions are the sum over its days of the sessions not already seen earlier in the range:
for a range starting on day `a`, a session of day `d` counts unless it was last seen before `d` on a day at or
after `a`. A day's summary keeps, for its sessions, how many days before each was last seen (up to
`WINDOW_DAYS`), so any range of up to `WINDOW_DAYS + 1` days ending anywhere adds them up from its days'
summaries (`Distinct.new_since`). Members the same way.

Each part of a summary (members, sessions) depends on the ids of its day and of the `WINDOW_DAYS` days before
it. It records the fingerprints of those (rows counted per day, which only grow, and grow with every insert
touching the day: `day_fingerprints.sql`), and it is used only while they are unchanged (`Distinct.current`).
The collector writes summaries (exporters/clickhouse/summaries.py); the console reads them and computes what is
not current from the rollups (console/daysummaries.py). Shared here so that both mean the same by "current".

The summaries of the days live ingest adds to (today and yesterday, UTC: `ids_kept`) also keep the ids they
counted (day_summary_ids). The console between two refreshes, and the next refresh, then look up only the ids
that arrived since (`with_ids_since_kept`), not every id of the day.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, Protocol

# The longest gap a summary counts an id's return over: ranges of up to this many days + 1 are summed from
# summaries (a year, a leap year, and some).
WINDOW_DAYS = 400
# The latest UTC days whose summaries keep their ids: today's and yesterday's (late exports of a session that
# ran over midnight).
IDS_KEPT_DAYS = 2


def ids_kept(day: date, today: date) -> bool:
    """Whether a summary of `day` keeps the ids it counted, on `today` (UTC)."""
    return (today - day).days < IDS_KEPT_DAYS


class Fingerprints:
    """The fingerprints of one kind of id (members or sessions) of a scope's days (day → rows), with their
    sums over the window before a day."""

    def __init__(self, rows: Mapping[date, int]) -> None:
        self._rows = dict(rows)
        self._days = sorted(self._rows)
        self._prefix = [0]
        for day in self._days:
            self._prefix.append(self._prefix[-1] + self._rows[day])

    def day(self, day: date) -> int:
        return self._rows.get(day, 0)

    def prior(self, day: date) -> int:
        """The fingerprint of the WINDOW_DAYS days before `day`: the sum of their rows."""
        upper = bisect_left(self._days, day)
        lower = bisect_left(self._days, day - timedelta(days=WINDOW_DAYS))
        return self._prefix[upper] - self._prefix[lower]


@dataclass(frozen=True, slots=True)
class Distinct:
    """One kind of id of one day: how many, and how many of them were last seen `gaps[i]` days before
    (`counts[i]`; 1 ≤ gap ≤ WINDOW_DAYS, ascending; ids not seen in the window are in `count` only), with the
    fingerprints of the day (`rows`) and of the window before it (`prior_rows`) they were computed at (0 when
    computed for one read)."""

    day: date
    count: int
    gaps: Sequence[int] = ()
    counts: Sequence[int] = ()
    rows: int = 0
    prior_rows: int = 0

    def new_since(self, first: date) -> int:
        """Its ids not seen on an earlier day at or after `first` (`first` at most WINDOW_DAYS before)."""
        return self.count - sum(self.counts[: bisect_right(self.gaps, (self.day - first).days)])

    def with_new(self, new: int, returning: Mapping[int, int]) -> Distinct:
        """This part with `new` ids more, `returning[gap]` of which were last seen `gap` days before, for one
        read (its fingerprints 0: never current)."""
        merged = dict(zip(self.gaps, self.counts, strict=True))
        for gap, count in returning.items():
            merged[gap] = merged.get(gap, 0) + count
        gaps = sorted(gap for gap, count in merged.items() if count)
        return Distinct(self.day, self.count + new, gaps, [merged[gap] for gap in gaps])

    def day_current(self, fingerprints: Fingerprints) -> bool:
        """Whether `count` still holds: the day's ids are those it was computed from."""
        return self.rows == fingerprints.day(self.day)

    def current(self, fingerprints: Fingerprints) -> bool:
        """Whether every figure still holds: the ids of the day and of the window before it are unchanged."""
        return self.day_current(fingerprints) and self.prior_rows == fingerprints.prior(self.day)


@dataclass(frozen=True, slots=True)
class DaySummary:
    day: date
    members: Distinct
    sessions: Distinct

    @classmethod
    def from_row(cls, day: date, summary: Sequence[Any]) -> DaySummary:
        """From a row of the named query `day_summaries`: the day and its `summary` tuple (gaps ascending, as
        sumMap gives them)."""
        member_rows, member_prior, members, member_gaps, member_counts = summary[:5]
        session_rows, session_prior, sessions, session_gaps, session_counts = summary[5:]
        return cls(
            day,
            Distinct(day, members, member_gaps, member_counts, member_rows, member_prior),
            Distinct(day, sessions, session_gaps, session_counts, session_rows, session_prior),
        )


def still_current(
    parts: Mapping[date, Distinct], fingerprints: Fingerprints, count_ids: Callable[[list[date]], Mapping[date, int]]
) -> dict[date, Distinct]:
    """The parts that still hold, each at its day's current fingerprint: those whose fingerprints match, and those
    whose day's rows grew with no new id (the same count, by `count_ids`: the set only grows, so it is the same
    set) while the days before it are unchanged."""
    current = {day: part for day, part in parts.items() if part.current(fingerprints)}
    grown = [day for day, part in parts.items() if day not in current and part.prior_rows == fingerprints.prior(day)]
    if grown:
        counted = count_ids(grown)
        for day in grown:
            if counted.get(day) == parts[day].count:
                current[day] = replace(parts[day], rows=fingerprints.day(day))
    return current


class Queries(Protocol):
    """The named queries of the store (pdata.store.NamedQueries' `query`)."""

    def query(self, name: str, parameters: dict[str, Any]) -> list[tuple[Any, ...]]: ...


def with_ids_since_kept(
    store: Queries, kind: str, organization_id: str, part: Distinct, since: date
) -> tuple[Distinct, list[int]] | None:
    """`part` (`kind`: members or sessions) with the ids its day gained since it was computed, when the day's kept
    ids (day_summary_ids) are the ones it counted (as many as its count: the day's ids only grow): the ids beyond
    them looked up in the days from `since` to the day before, and their keys. None when the kept ids are not the
    part's (another refresh's, or none). The part's returns must still hold (the days before it unchanged)."""
    day = part.day
    scope = {"organization_id": organization_id, "day": day}
    [(kept, new)] = store.query(f"day_new_{kind}", {**scope, "kind": kind})
    if kept != part.count:
        return None
    if not new:
        return part, []
    previous: list[date] = []
    if kind == "sessions":
        keys = [int(key) for key in new]
        if since < day:
            found = store.query("sessions_previous_days", {**scope, "since": since, "keys": keys})
            previous = [last for _, last in found]
    else:
        keys = [int(key) for key, _, _ in new]
        if since < day:
            members = [(member_type, member) for _, member_type, member in new]
            previous = _members_previous_days(store, scope, since, members)
    returning = Counter((day - last).days for last in previous)
    return part.with_new(len(keys), returning), keys


def _members_previous_days(
    store: Queries, scope: dict[str, Any], since: date, members: list[tuple[str, str]]
) -> list[date]:
    """The last days before `scope`'s day, from `since` on, of those of `members` (member_type, member) active
    then: within the day's month first, the months before only for the members not found there."""
    found: dict[tuple[str, str], date] = {}
    for query in ("members_previous_days_in_month", "members_previous_days_before_month"):
        wanted = {member for member in members if member not in found}
        if not wanted:
            break
        names = sorted({member for _, member in wanted})
        rows = store.query(query, {**scope, "since": since, "members": names})
        found.update({(type_, member): last for type_, member, last in rows if (type_, member) in wanted})
    return list(found.values())


def range_count(first: date, days: Mapping[date, Distinct]) -> int:
    """Distinct ids over a range starting at `first`, from each of its days: the ids each adds."""
    return sum(part.new_since(first) for part in days.values())
