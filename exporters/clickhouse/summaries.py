"""Day summaries (pdata/day_summaries.py), written by the collector: after groups are committed, at most every
`storage.summaries_refresh_seconds`, every UTC day whose summary is missing or no longer current is computed
again, for each organization and for all of them together (computed once when one organization holds every row:
the same ids).

Each part of a summary is computed from one read of its rollup, with its fingerprints read *before*
(`day_fingerprints`): members from member_daily (`member_day_gaps`) and sessions from session_days
(`session_day_gaps`), each counted in day_rows. day_rows is filled after the
rollups they count, in the same insert, so whatever the fingerprints count is already in the rollup when it is
read: a summary holds at least what its fingerprints say. If it holds more (an insert landed in between), the
fingerprints have grown by the time it is read, and it is computed again. A summary that is not current is
never used: the console computes such days from the rollups itself. So the summaries only make the console
faster, and a refresh that fails (store unreachable) is tried again later.

The summaries of today and yesterday (UTC, `ids_kept`) keep their ids (day_summary_ids), written before the
summaries. Such a day is computed again from its summary and the ids beyond the kept ones, looked up alone
(`with_ids_since_kept`: on the bench's year, a refresh of a day with a new member and session takes ~120 ms of
CPU this way against ~400 ms for a look-up of every id of the day), or else whole with its ids
(`session_day_previous`, `member_day_previous`: each id of the day and its last day before it, from one read).
Between refreshes the console looks up the ids beyond the kept ones the same way.

Several collectors on one server each refresh; their summaries of a day agree, and the latest is read
(`computed_at`, a ReplacingMergeTree version).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from pdata import EventFact, PointFact
from pdata.day_summaries import (
    WINDOW_DAYS,
    DaySummary,
    Distinct,
    Fingerprints,
    Queries,
    ids_kept,
    still_current,
    with_ids_since_kept,
)

log = logging.getLogger("cc_analytics.store")

ALL_ORGANIZATIONS = ""
COLUMNS = (
    "organization_id", "day", "computed_at",
    "member_rows", "member_prior_rows", "members", "member_returning_gaps", "member_returning_counts",
    "session_rows", "session_prior_rows", "sessions", "session_returning_gaps", "session_returning_counts",
)  # fmt: skip
IDS_COLUMNS = ("organization_id", "day", "kind", "key")
NEVER = date(1970, 1, 1)  # a previous day of none (the LEFT JOINs' default)
# Kept ids per insert (a day of 10 000 members: ~7 000 of each kind, written once, then those that arrive).
IDS_PER_INSERT = 100_000
# Summary rows per insert.
ROWS_PER_INSERT = 200
# Up to this many days of members are computed one day at a time (member_day_returns), more together.
FEW_DAYS = 3
# A refresh that writes more days than this (start-up, late data for an old day) is logged at info level; the
# usual one (today's, after commits) at debug.
ROUTINE_DAYS = 2


@dataclass(frozen=True, slots=True)
class _Kind:
    """One kind of id of a summary, with the named queries that count a day's ids and find their returns."""

    name: str  # the DaySummary field: members or sessions
    counts: str  # distinct ids of some days
    gaps: str  # ids and returns of any number of days
    # Days asked of `gaps` at once: its memory grows with the ids it holds. A member's days of the window are
    # one array (10 000 members, a year: + ~55 MB for any number of days); a session's days are sorted with
    # those of the other sessions of the days asked (~7 000 a day).
    days_per_query: int
    one_day: str  # the same for one day, where that is cheaper ('' when it is not)
    previous: str  # each id's key of one day with its last day before it (a day whose ids are kept)


KINDS = (
    _Kind("members", "day_member_counts", "member_day_gaps", 400, "member_day_returns", "member_day_previous"),
    _Kind("sessions", "day_sessions", "session_day_gaps", 30, "", "session_day_previous"),
)


def _utc_today() -> date:
    return datetime.now(UTC).date()


class SummaryStore(Queries, Protocol):
    def insert_rows(self, table: str, column_names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None: ...


@dataclass(frozen=True, slots=True)
class RefreshReport:
    scopes: int  # organizations, and all of them together
    days: int  # summaries written
    seconds: float


def _chunks(days: list[date], size: int) -> Iterator[list[date]]:
    for start in range(0, len(days), size):
        yield days[start : start + size]


class DaySummaries:
    """Keeps the store's day summaries current: `refresh` once, or `start` a thread that refreshes after
    commits (`on_commit`, a pipeline listener), at most every `interval_s` seconds."""

    def __init__(self, store: SummaryStore, interval_s: float, today: Callable[[], date] = _utc_today) -> None:
        self._store = store
        self._interval_s = interval_s
        self._today = today
        self._changed = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def refresh(self) -> RefreshReport:
        began = time.perf_counter()
        scopes: dict[str, dict[date, tuple[int, int]]] = {ALL_ORGANIZATIONS: {}}
        for organization_id, day, member_rows, session_rows in self._store.query("day_fingerprints", {}):
            every = scopes[ALL_ORGANIZATIONS].get(day, (0, 0))
            scopes[ALL_ORGANIZATIONS][day] = (every[0] + int(member_rows), every[1] + int(session_rows))
            if organization_id != ALL_ORGANIZATIONS:  # '' names all organizations, so it is no filter of its own
                scopes.setdefault(organization_id, {})[day] = (int(member_rows), int(session_rows))
        # One organization holding every row (the usual installation): all of them is the same sets of ids, so
        # its summaries are computed once and written for both scopes.
        all_days = scopes[ALL_ORGANIZATIONS]
        alone = [organization_id for organization_id, days in scopes.items() if organization_id and days == all_days]
        if alone:
            del scopes[ALL_ORGANIZATIONS]
        written = 0
        for organization_id, days in scopes.items():
            also = [ALL_ORGANIZATIONS] if organization_id in alone else []
            written += self._refresh_scope(organization_id, days, also)
        return RefreshReport(len(scopes) + len(alone), written, time.perf_counter() - began)

    def _refresh_scope(self, organization_id: str, days: dict[date, tuple[int, int]], also: list[str]) -> int:
        """Summaries for the scope's days not current, and for the days of the scopes `also` (the same ids) whose
        summaries are not; returns how many summaries were written."""
        if not days:
            return 0
        fingerprints = {
            "members": Fingerprints({day: rows for day, (rows, _) in days.items()}),
            "sessions": Fingerprints({day: rows for day, (_, rows) in days.items()}),
        }
        stored = self._stored(organization_id, days)
        parts: dict[str, dict[date, Distinct]] = {}
        written: set[date] = set()
        computed_at = datetime.now(UTC)
        ids_rows: list[list[Any]] = []
        for kind in KINDS:
            parts[kind.name], stale, ids, whole = self._parts(
                kind, organization_id, days, stored, fingerprints[kind.name]
            )
            written |= stale
            for scope in [organization_id, *also]:
                for day, keys in sorted(ids.items()):
                    if day in whole:
                        keys = self._not_kept(scope, day, kind, keys)
                    ids_rows += [[scope, day, kind.name, key] for key in keys]
        # Before the summaries: a summary is never read with fewer ids kept than it counted. A refresh stopped in
        # between leaves more kept than the summary counted: that day is looked up whole until the next one.
        for start in range(0, len(ids_rows), IDS_PER_INSERT):
            self._store.insert_rows("day_summary_ids", IDS_COLUMNS, ids_rows[start : start + IDS_PER_INSERT])
        rows = [self._row(organization_id, day, computed_at, parts) for day in sorted(written)]
        for scope in also:
            held = self._stored(scope, days)
            rows += [
                self._row(scope, day, computed_at, parts)
                for day in sorted(days)
                if day not in held
                or not all(getattr(held[day], kind.name).current(fingerprints[kind.name]) for kind in KINDS)
            ]
        for start in range(0, len(rows), ROWS_PER_INSERT):
            self._store.insert_rows("day_summaries", COLUMNS, rows[start : start + ROWS_PER_INSERT])
        return len(rows)

    def _stored(self, organization_id: str, days: dict[date, tuple[int, int]]) -> dict[date, DaySummary]:
        window = {"organization_id": organization_id, "first": min(days), "last": max(days)}
        return {day: DaySummary.from_row(day, summary) for day, summary in self._store.query("day_summaries", window)}

    @staticmethod
    def _row(
        organization_id: str, day: date, computed_at: datetime, parts: dict[str, dict[date, Distinct]]
    ) -> list[Any]:
        row: list[Any] = [organization_id, day, computed_at]
        for kind in KINDS:
            part = parts[kind.name][day]
            row += [part.rows, part.prior_rows, part.count, list(part.gaps), list(part.counts)]
        return row

    def _parts(
        self,
        kind: _Kind,
        organization_id: str,
        days: dict[date, tuple[int, int]],
        stored: dict[date, DaySummary],
        fingerprints: Fingerprints,
    ) -> tuple[dict[date, Distinct], set[date], dict[date, list[int]], set[date]]:
        """Every day's part of this kind, the days whose part was not current, the ids of those computed whose
        ids are kept (every id of the day for those looked up whole, the ids beyond the kept ones otherwise),
        and which of those were looked up whole."""
        parts = {day: getattr(stored[day], kind.name) for day in days if day in stored}
        stale = sorted(day for day in days if day not in parts or not parts[day].current(fingerprints))
        current = still_current(
            parts,
            fingerprints,
            lambda grown: dict(self._store.query(kind.counts, {"organization_id": organization_id, "days": grown})),
        )
        recompute = [day for day in stale if day not in current]
        today = self._today()
        keep = [day for day in recompute if ids_kept(day, today)]
        ids: dict[date, list[int]] = {}
        whole: set[date] = set()
        for day in keep:
            kept = parts.get(day)
            grown = None
            if kept is not None and kept.prior_rows == fingerprints.prior(day):
                since = day - timedelta(days=WINDOW_DAYS)
                grown = with_ids_since_kept(self._store, kind.name, organization_id, kept, since)
            if grown is None:
                whole.add(day)
                grown = self._with_ids(kind, organization_id, day)
            part, ids[day] = grown
            current[day] = replace(part, rows=fingerprints.day(day), prior_rows=fingerprints.prior(day))
        rest = [day for day in recompute if day not in ids]
        for day, (count, gaps, counts) in self._returns(kind, organization_id, rest).items():
            current[day] = Distinct(day, count, gaps, counts, fingerprints.day(day), fingerprints.prior(day))
        for day in rest:  # no id of this kind that day
            current.setdefault(day, Distinct(day, 0, (), (), fingerprints.day(day), fingerprints.prior(day)))
        return current, set(stale), ids, whole

    def _not_kept(self, organization_id: str, day: date, kind: _Kind, keys: list[int]) -> list[int]:
        """Those of a day's `keys` the scope does not keep yet. A day looked up whole again (its kept ids not
        its summary's, e.g. after late data for a day before it) mostly has them kept already: written again,
        each would be read twice by every read of the kept ids until a merge replaced it."""
        scope = {"organization_id": organization_id, "day": day, "kind": kind.name}
        kept = {int(key) for (key,) in self._store.query("day_kept_ids", scope)}
        return [key for key in keys if key not in kept]

    def _with_ids(self, kind: _Kind, organization_id: str, day: date) -> tuple[Distinct, list[int]]:
        """One day's part of this kind and the keys of the ids it counted, from one read of them."""
        parameters = {"organization_id": organization_id, "day": day, "since": day - timedelta(days=WINDOW_DAYS)}
        found = self._store.query(kind.previous, parameters)
        returning = Counter((day - previous).days for _, previous in found if previous != NEVER)
        return Distinct(day, 0).with_new(len(found), returning), [key for key, _ in found]

    def _returns(
        self, kind: _Kind, organization_id: str, days: list[date]
    ) -> dict[date, tuple[int, list[int], list[int]]]:
        found: dict[date, tuple[int, list[int], list[int]]] = {}
        span = timedelta(days=WINDOW_DAYS)
        asked: list[tuple[str, dict[str, Any]]]
        if kind.one_day and len(days) <= FEW_DAYS:
            asked = [(kind.one_day, {"day": day, "since": day - span}) for day in days]
        else:
            asked = [
                (kind.gaps, {"days": chunk, "since": chunk[0] - span}) for chunk in _chunks(days, kind.days_per_query)
            ]
        for query, parameters in asked:
            for day, count, (gaps, counts) in self._store.query(
                query, {"organization_id": organization_id, "max_gap": WINDOW_DAYS, **parameters}
            ):
                found[day] = (int(count), list(gaps), list(counts))
        return found

    # --- the collector's thread ---------------------------------------------------------------------------------

    def on_commit(self, points: Sequence[PointFact], events: Sequence[EventFact]) -> None:
        self._changed.set()

    def start(self) -> None:
        """Refreshes now (what the store held before this start), then after commits."""
        self._changed.set()
        self._thread = threading.Thread(target=self._run, name="day-summaries", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stopping.set()
        self._changed.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            self._changed.wait()
            if self._stopping.is_set():
                return
            self._changed.clear()
            self._refresh_logged()
            if self._stopping.wait(self._interval_s):
                return

    def _refresh_logged(self) -> None:
        try:
            report = self.refresh()
        except Exception as exc:
            # The console computes what is not current itself: a failed refresh costs it time, not figures.
            if not self._failing:
                log.warning("day_summaries.refresh_failed", extra={"fields": {"error": str(exc)[:300]}})
            self._failing = True
            self._changed.set()  # try again after the interval
            return
        if self._failing:
            log.info("day_summaries.refresh_recovered", extra={"fields": {}})
        self._failing = False
        fields = {"scopes": report.scopes, "days": report.days, "ms": round(report.seconds * 1000, 1)}
        log.log(logging.INFO if report.days > ROUTINE_DAYS else logging.DEBUG, "day_summaries.refreshed",
                extra={"fields": fields})  # fmt: skip
