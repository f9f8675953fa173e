"""The cumulative converter's memory is bounded: at most `max_series` series, forgotten by when their points
arrived (a point stamped years ahead cannot pin its series), and points of new series past the bound are
refused as partial success, never half-counted."""

from __future__ import annotations

import pytest

from pdata import CUMULATIVE, Batch, MetricPoint, Sender
from processors.chain import ProcessorChain
from processors.dedup import RequestDeduplicator
from processors.identity import IdentityResolver
from processors.temporality import CumulativeToDelta, SeriesLimitReached, SeriesState

_S = 1_000_000_000
_DAY = 86_400 * _S
_FAR_FUTURE_NS = 2**62  # year 2116


def _point(value: float, time_ns: int, session: str) -> MetricPoint:
    return MetricPoint(
        metric="claude_code.lines_of_code.count",
        unit="",
        temporality=CUMULATIVE,
        monotonic=True,
        start_ns=1,
        time_ns=time_ns,
        value=value,
        attributes={"type": "added", "user.id": "u", "session.id": session},
        resource={},
    )


def _batch(digest: bytes, received_ns: int, *points: MetricPoint) -> Batch:
    return Batch(signal="metrics", digest=digest, sender=Sender(), received_ns=received_ns, points=list(points))


def test_a_series_stamped_in_the_future_expires_by_its_arrival() -> None:
    converter = CumulativeToDelta()
    pending: dict[int, SeriesState] = {}
    assert converter.delta(1, _point(5, _FAR_FUTURE_NS, "s1"), pending) == 5
    converter.commit(pending, arrived_ns=10 * _DAY)
    assert converter.expire(10 * _DAY) == 0 and len(converter) == 1  # arrived at the horizon: kept
    assert converter.expire(10 * _DAY + 1) == 1 and len(converter) == 0  # its own time is far ahead: irrelevant


def test_a_new_point_renews_its_series_arrival() -> None:
    converter = CumulativeToDelta()
    for arrived_ns, value in ((_DAY, 5), (3 * _DAY, 8)):
        pending: dict[int, SeriesState] = {}
        converter.delta(1, _point(value, arrived_ns, "s1"), pending)
        converter.commit(pending, arrived_ns=arrived_ns)
    assert converter.expire(2 * _DAY) == 0 and len(converter) == 1


def test_new_series_past_the_bound_are_refused_and_known_ones_go_on() -> None:
    converter = CumulativeToDelta(max_series=2)
    pending: dict[int, SeriesState] = {}
    assert converter.delta(1, _point(5, 10, "a"), pending) == 5
    assert converter.delta(2, _point(7, 10, "b"), pending) == 7
    with pytest.raises(SeriesLimitReached, match="temporality.max_series"):
        converter.delta(3, _point(9, 10, "c"), pending)
    assert converter.delta(1, _point(6, 11, "a"), pending) == 1  # a series of this group already counted
    converter.commit(pending, arrived_ns=_DAY)
    later: dict[int, SeriesState] = {}
    assert converter.delta(2, _point(10, 20, "b"), later) == 3
    with pytest.raises(SeriesLimitReached):
        converter.delta(3, _point(9, 20, "c"), later)
    # Once idle series expire there is room again.
    converter.commit(later, arrived_ns=2 * _DAY)
    assert converter.expire(2 * _DAY) == 1
    assert converter.delta(3, _point(9, 30, "c"), {}) == 9


def test_a_failed_write_releases_the_room_its_new_series_took() -> None:
    converter = CumulativeToDelta(max_series=1)
    converter.delta(1, _point(5, 10, "a"), {})  # staged, never committed (the write failed)
    assert converter.delta(2, _point(4, 10, "b"), {}) == 4  # a new group: the room is free again


def test_restore_keeps_at_most_the_bound() -> None:
    converter = CumulativeToDelta(max_series=2)
    assert [converter.restore(key, SeriesState(1, 1.0, 5), _DAY) for key in (1, 2, 3)] == [True, True, False]
    assert converter.restore(2, SeriesState(1, 2.0, 6), _DAY)  # a series already held is updated
    assert len(converter) == 2


def test_the_chain_answers_points_past_the_bound_as_partial_success_once() -> None:
    chain = ProcessorChain(IdentityResolver(), CumulativeToDelta(max_series=3), RequestDeduplicator(10**15))
    batch = _batch(b"d1", _DAY, *(_point(2, _DAY, f"s{index}") for index in range(5)))
    group = chain.process([batch])
    assert [fact.delta for fact in group.points] == [2, 2, 2]
    assert batch.rejected == 2 and len(batch.points) == 3
    assert "temporality.max_series" in batch.rejected_reason
    # Processed again (the pipeline retries a failed group batch by batch): nothing more is refused.
    again = chain.process([batch])
    assert [fact.delta for fact in again.points] == [2, 2, 2] and batch.rejected == 2
    chain.commit(again)
    assert len(chain.converter) == 3
