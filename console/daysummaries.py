"""The console's analytics without a team filter over up to WINDOW_DAYS + 1 days, from the day summaries
(pdata/day_summaries.py): the distinct members and sessions of each day, and the range's as the sum of what
each day adds (ids not seen earlier in the range), instead of merging every member and session id of every
day of the range (exporters/clickhouse/README.md, Day summaries).

Only the figures whose fingerprints still match are used; the rest is computed from the rollups here:
- today's and yesterday's summaries keep the ids they counted (day_summary_ids): while the days before such a
  day are unchanged, only its ids beyond those (`day_new_members`, `day_new_sessions`: one read of the day's
  ids) are looked up in the range (`with_ids_since_kept`: a handful of ids). That is the usual state under
  live ingest, where a new session arrives between any two refreshes;
- a day whose rows grew with no new member or session (the same count, `day_member_counts`, `day_sessions`: the
  set only grows) and whose window is unchanged keeps its summary's members or sessions;
- members: a day whose members changed (today's, while members arrive) is read from its uniqExact states
  (`day_members`), and then the range's members are merged from the monthly and daily states
  (`analytics_range_members`, ~12 ms over a year of 10 000 members);
- sessions: a day whose sessions changed has them looked up in the days of the range before it
  (`session_day_gaps`). That reads the range's session keys (~45 ms over a year of 2.5 M sessions), so with
  more than MAX_STALE_SESSION_DAYS such days the whole range is read from the rollups' query
  (`analytics_days_and_totals`) instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from console.together import both
from pdata.day_summaries import (
    WINDOW_DAYS,
    DaySummary,
    Distinct,
    Fingerprints,
    ids_kept,
    range_count,
    still_current,
    with_ids_since_kept,
)
from pdata.store import NamedQueries

MAX_STALE_SESSION_DAYS = 3
_SUMS = ("day", "whole_range", "accepted_lines", "removed_lines", "accepts", "rejects", "spend_usd")


def analytics_rows(
    store: NamedQueries, start: date, end: date, parameters: dict[str, Any]
) -> list[dict[str, Any]] | None:
    """The rows `analytics_days_and_totals` would answer for the days `start` to `end` and its `parameters`
    (the range's bounds and the organization, '' for all, without a team): one per day with activity
    (`whole_range` 0), then one for the range; None when the summaries cannot answer (a range longer than
    WINDOW_DAYS + 1 days, or too many days whose sessions changed)."""
    if (end - start).days > WINDOW_DAYS:
        return None
    scope = {"organization_id": parameters["organization_id"]}
    # The sums and the fingerprints beside the stored summaries, then the sessions beside the members.
    (sums, rows), summaries = both(
        lambda: (
            store.query_named("analytics_day_sums", parameters),
            store.query("day_rows", {**scope, "first": start - timedelta(days=WINDOW_DAYS), "last": end}),
        ),
        lambda: store.query("day_summaries", {**scope, "first": start, "last": end}),
    )
    days = {row["day"]: row for row in sums if not row["whole_range"]}
    if not days:
        return []
    stored = {day: DaySummary.from_row(day, summary) for day, summary in summaries}
    read = _RangeRead(store, scope, start, list(days), datetime.now(UTC).date())
    sessions, (members, range_members) = both(
        lambda: read.sessions(
            {day: summary.sessions for day, summary in stored.items()},
            Fingerprints({day: int(sessions) for day, _, sessions in rows}),
        ),
        lambda: read.members(
            {day: summary.members for day, summary in stored.items()},
            Fingerprints({day: int(members) for day, members, _ in rows}),
        ),
    )
    if sessions is None:
        return None
    if range_members is None:
        found = store.query("analytics_range_members", parameters)
        range_members = int(found[0][0])
    shaped = [
        _row(row, members[day], sessions[day].count + int(row["unidentified_session_starts"]))
        for day, row in days.items()
    ]
    total = next(row for row in sums if row["whole_range"])
    range_sessions = range_count(start, sessions) + int(total["unidentified_session_starts"])
    return [*shaped, _row(total, range_members, range_sessions)]


def _row(sums: dict[str, Any], active_users: int, sessions: int) -> dict[str, Any]:
    return {**{name: sums[name] for name in _SUMS}, "active_users": active_users, "sessions": sessions}


@dataclass(frozen=True, slots=True)
class _RangeRead:
    """The reads of one range's members and sessions beyond the summaries: `days` are its days with activity."""

    store: NamedQueries
    scope: dict[str, Any]
    start: date
    days: list[date]
    today: date  # UTC: the days whose summaries keep their ids are today's and yesterday's

    def members(self, parts: dict[date, Distinct], fingerprints: Fingerprints) -> tuple[dict[date, int], int | None]:
        """Each day's members, and the range's when every day's summary still holds for it (else None)."""
        current = self._known("members", "day_member_counts", parts, fingerprints)
        counts = {day: part.count for day, part in current.items()}
        changed = [day for day in self.days if day not in current]
        if changed:
            found = self.store.query("day_members", {**self.scope, "days": changed})
            counts.update({day: int(count) for day, count in found})
        return {day: counts.get(day, 0) for day in self.days}, None if changed else range_count(self.start, current)

    def sessions(self, parts: dict[date, Distinct], fingerprints: Fingerprints) -> dict[date, Distinct] | None:
        """Each day's sessions and returns: stored if they still hold, else computed for the range; None when
        more than MAX_STALE_SESSION_DAYS days would have to be looked up."""
        current = self._known("sessions", "day_sessions", parts, fingerprints)
        stale = [day for day in self.days if day not in current]
        if len(stale) > MAX_STALE_SESSION_DAYS:
            return None
        if stale:
            window = {**self.scope, "days": stale, "since": self.start, "max_gap": WINDOW_DAYS}
            found = {
                day: Distinct(day, count, gaps, counts)
                for day, count, (gaps, counts) in self.store.query("session_day_gaps", window)
            }
            current.update({day: found.get(day, Distinct(day, 0)) for day in stale})
        return {day: current[day] for day in self.days}

    def _known(
        self, kind: str, counts: str, parts: dict[date, Distinct], fingerprints: Fingerprints
    ) -> dict[date, Distinct]:
        """The parts of the range's days known without reading the day's states: grown by the ids beyond the
        kept ones, else still current (the ids counted by `counts`)."""
        known = self._beyond_kept_ids(kind, parts, fingerprints)
        rest = {day: part for day, part in parts.items() if day not in known}
        return known | self._still_current(counts, rest, fingerprints)

    def _beyond_kept_ids(
        self, kind: str, parts: dict[date, Distinct], fingerprints: Fingerprints
    ) -> dict[date, Distinct]:
        """The parts of the range's days whose ids are kept and whose window is unchanged, not current but with
        the ids that arrived since looked up in the range (for this read only); a day whose kept ids are not
        those its part counted is left out."""
        found: dict[date, Distinct] = {}
        for day in self.days:
            part = parts.get(day)
            if (
                part is None
                or part.current(fingerprints)
                or part.prior_rows != fingerprints.prior(day)
                or not ids_kept(day, self.today)
            ):
                continue
            grown = with_ids_since_kept(self.store, kind, self.scope["organization_id"], part, self.start)
            if grown is not None:
                found[day] = grown[0]
        return found

    def _still_current(
        self, counts: str, parts: dict[date, Distinct], fingerprints: Fingerprints
    ) -> dict[date, Distinct]:
        """The stored parts of the range's days that still hold (`still_current`), the ids counted by `counts`."""
        return still_current(
            {day: parts[day] for day in self.days if day in parts},
            fingerprints,
            lambda grown: dict(self.store.query(counts, {**self.scope, "days": grown})),
        )
