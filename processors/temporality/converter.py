from __future__ import annotations

from dataclasses import dataclass
from hashlib import blake2b

from pdata import CUMULATIVE, MetricPoint, Sender


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


class CumulativeToDelta:
    """Per-series conversion of cumulative sums into deltas.

    A reset is a value drop or a changed start time; the first point seen of a series counts in full
    (its value is everything since its start). A point not newer than the last one seen is stale and
    yields nothing, so duplicates and out-of-order retries cannot add twice; an unchanged value yields
    nothing either. Updates are staged in a
    `pending` dict and only `commit`ted once the deltas are durable, so a failed write changes nothing.
    """

    def __init__(self) -> None:
        self._state: dict[int, SeriesState] = {}

    def __len__(self) -> int:
        return len(self._state)

    def restore(self, key: int, state: SeriesState) -> None:
        self._state[key] = state

    def delta(self, key: int, point: MetricPoint, pending: dict[int, SeriesState]) -> float | None:
        """The delta this point contributes, or None when it contributes nothing (stale or unchanged)."""
        if point.temporality != CUMULATIVE:
            return point.value
        previous = pending.get(key) or self._state.get(key)
        current = SeriesState(point.start_ns, point.value, point.time_ns)
        if previous is None:
            pending[key] = current
            return point.value
        if point.time_ns <= previous.time_ns:
            return None
        pending[key] = current
        restarted = point.start_ns != previous.start_ns and point.start_ns != 0
        if restarted or point.value < previous.value:
            return point.value
        if point.value == previous.value:
            # Cumulative senders re-export idle series every interval; a delta sender sends nothing then.
            # Storing nothing keeps both temporalities equal (activity included).
            return None
        return point.value - previous.value

    def commit(self, pending: dict[int, SeriesState]) -> None:
        self._state.update(pending)

    def expire(self, horizon_ns: int) -> int:
        """Forget series whose last point is older than `horizon_ns` (as a restart would); returns how many."""
        stale = [key for key, state in self._state.items() if state.time_ns < horizon_ns]
        for key in stale:
            del self._state[key]
        return len(stale)
