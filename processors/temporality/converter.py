from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import StrEnum
from hashlib import blake2b

from pdata import CUMULATIVE, MetricPoint, Sender


class DropReason(StrEnum):
    """Why a cumulative point adds nothing (its value is the `reason` label of
    cc_analytics_cumulative_points_dropped_total). A series' first point and a reset count in full: never dropped."""

    # Not newer than the series' last point (the same time or an older one): a replayed or out-of-order point,
    # whose increment its series already counted. Counting it would count that increment twice.
    STALE = "stale"
    # Newer, with the same value as the series' last point: an idle series re-exported by a cumulative sender
    # (a delta sender sends nothing then), so nothing is stored and both temporalities give the same activity.
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class SeriesState:
    start_ns: int
    value: float
    time_ns: int


def series_key(point: MetricPoint, sender: Sender) -> int:
    """A stable 64-bit id of metric + resource + attributes (+ the sender's binding, which scopes identity)."""
    return series_key_of(
        point.metric, series_text(point.resource), point.attributes, sender.api_key_id + sender.organization_id
    )


def series_text(part: dict[str, str]) -> str:
    """The hashed text of a resource or attribute map: "\\0key\\1value" in key order, then "\\2"."""
    pieces: list[str] = []
    for key in sorted(part):
        pieces += ("\x00", key, "\x01", part[key])
    pieces.append("\x02")
    return "".join(pieces)


def series_key_of(metric: str, resource_text: str, attributes: dict[str, str], sender_text: str) -> int:
    """series_key with the parts that repeat across a request's points (resource, sender) computed once.

    One blake2b over the UTF-8 of the concatenation: the same bytes, so the same keys, as feeding the parts one
    by one (keys are stored and restored after a restart, so they must never change)."""
    text = metric + resource_text + series_text(attributes) + sender_text
    return int.from_bytes(blake2b(text.encode(), digest_size=8).digest(), "big")


DEFAULT_MAX_SERIES = 200_000


@dataclass(frozen=True, slots=True)
class StoredSeries:
    """A series' last point in the shared store (raw cumulative value, start and time) and when it arrived."""

    state: SeriesState
    arrived_ns: int


# The last stored point of each of `keys` among the cumulative series that arrived since `since_ns`, as any
# process committed it (collector/app.py binds it to the store's `stored_series_state` query).
StoredSeriesLookup = Callable[[Collection[int], int], dict[int, StoredSeries]]


class SeriesLimitReached(Exception):
    """A point of a new cumulative series while `max_series` series are remembered: it cannot be converted
    (its first value would count in full, and forgetting another series would count that one twice later)."""


class CumulativeToDelta:
    """Per-series conversion of cumulative sums into deltas.

    A reset is a value drop or a changed start time; the first point seen of a series counts in full
    (its value is everything since its start). A point not newer than the last one seen is stale and
    yields nothing, so duplicates and out-of-order retries cannot add twice; an unchanged value yields
    nothing either (`DropReason` names the two). Updates are staged in a
    `pending` dict and only `commit`ted once the deltas are durable, so a failed write changes nothing.

    Memory is bounded: at most `max_series` series are remembered (a point of a new series past that raises
    SeriesLimitReached), and `expire` forgets series by when their last point *arrived*, not by the time the
    point claims, so series stamped in the future expire like any other.

    With `stored` (replicas sharing one store), `recall` reads the last stored point of a group's series
    before they are converted, and takes it where it is newer than this process's: another replica converted
    later points of the series meanwhile.
    """

    def __init__(
        self,
        max_series: int = DEFAULT_MAX_SERIES,
        clock: Callable[[], int] = time.time_ns,
        stored: StoredSeriesLookup | None = None,
    ) -> None:
        self._stored = stored
        self._state: dict[int, SeriesState] = {}
        self._arrived: dict[int, int] = {}  # series → arrival (ns) of its last committed point
        self.max_series = max_series
        self._clock = clock
        self._staging: dict[int, SeriesState] | None = None  # the pending dict new series are counted for
        self._staged_new = 0
        # The group converted before the staging one, whose write has not ended yet (see `carry`): its new series
        # count towards max_series until it commits.
        self._carried: dict[int, SeriesState] | None = None
        self._carried_new = 0

    def __len__(self) -> int:
        return len(self._state)

    def restore(self, key: int, state: SeriesState, arrived_ns: int | None = None) -> bool:
        """Resume a series (after a restart); False, and nothing kept, when `max_series` are already held."""
        if key not in self._state and len(self._state) >= self.max_series:
            return False
        self._state[key] = state
        self._arrived[key] = self._clock() if arrived_ns is None else arrived_ns
        return True

    @property
    def shared(self) -> bool:
        return self._stored is not None

    def recall(self, keys: Collection[int], since_ns: int) -> int:
        """Before converting a group: the last stored point of each of its cumulative series (one query), kept
        where it is newer than this process's state; returns how many were taken. Without a store: nothing.
        A series new to this process counts towards `max_series` as any new series does (past the bound it
        is not taken, and its point is refused as a new series'). Raises what the lookup raises."""
        if self._stored is None or not keys:
            return 0
        taken = 0
        for key, stored in self._stored(keys, since_ns).items():
            current = self._state.get(key)
            # The store holds what every replica committed, so it is never behind this process's own commits
            # (except by points that added nothing, which are not stored: then this process's is newer).
            if current is not None and stored.state.time_ns <= current.time_ns:
                continue
            taken += self.restore(key, stored.state, stored.arrived_ns)
        return taken

    def begin(self, pending: dict[int, SeriesState]) -> None:
        """Convert a new group into `pending`, on top of the committed state alone."""
        self._staging, self._staged_new = pending, 0
        self._carried, self._carried_new = None, 0

    def carry(self, written: dict[int, SeriesState], pending: dict[int, SeriesState]) -> None:
        """Convert a new group into `pending` on top of `written`, the group converted just before whose write
        has not ended: its series as it left them, its new series still counted against max_series. If that
        write fails, `pending` is void and the group is converted again (`begin`)."""
        carried_new = self._staged_new if written is self._staging else 0
        pending.update(written)
        self._carried, self._carried_new = written, carried_new
        self._staging, self._staged_new = pending, 0

    def delta(self, key: int, point: MetricPoint, pending: dict[int, SeriesState]) -> float | DropReason:
        """The delta this point contributes, or why it contributes nothing."""
        if point.temporality != CUMULATIVE:
            return point.value
        previous = pending.get(key) or self._state.get(key)
        current = SeriesState(point.start_ns, point.value, point.time_ns)
        if previous is None:
            self._stage_new_series(pending)
            pending[key] = current
            return point.value
        if point.time_ns <= previous.time_ns:
            return DropReason.STALE
        pending[key] = current
        restarted = point.start_ns != previous.start_ns and point.start_ns != 0
        if restarted or point.value < previous.value:
            return point.value
        if point.value == previous.value:
            # Cumulative senders re-export idle series every interval; a delta sender sends nothing then.
            # Storing nothing keeps both temporalities equal (activity included).
            return DropReason.UNCHANGED
        return point.value - previous.value

    def _stage_new_series(self, pending: dict[int, SeriesState]) -> None:
        if pending is not self._staging:  # a new group: count its new series from 0
            self.begin(pending)
        if len(self._state) + self._carried_new + self._staged_new >= self.max_series:
            raise SeriesLimitReached(
                f"the collector already tracks {self.max_series} cumulative series (temporality.max_series): "
                "points of new cumulative series are refused until idle ones expire"
            )
        self._staged_new += 1

    def commit(self, pending: dict[int, SeriesState], arrived_ns: int | None = None) -> None:
        """Keep what a durable group changed; its series arrived at `arrived_ns` (default: now)."""
        self._state.update(pending)
        arrived_ns = self._clock() if arrived_ns is None else arrived_ns
        arrived = self._arrived
        for key in pending:
            arrived[key] = arrived_ns
        if pending is self._staging:
            self._staging, self._staged_new = None, 0
        if pending is self._carried:
            self._carried, self._carried_new = None, 0

    def expire(self, horizon_ns: int) -> int:
        """Forget series whose last point arrived before `horizon_ns` (as a restart would); returns how many.
        Arrival, not the point's own time: a point stamped years ahead must not pin its series forever."""
        stale = [key for key, arrived_ns in self._arrived.items() if arrived_ns < horizon_ns]
        for key in stale:
            del self._state[key]
            del self._arrived[key]
        return len(stale)
