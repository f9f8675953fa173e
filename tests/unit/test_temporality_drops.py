"""Cumulative points that add nothing are dropped for a named reason, and counted once their group is committed:
on the converter, through the processor chain, and on the collector's self-metric."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from collector.selfmetrics import SelfMetrics
from pdata import Batch, MetricPoint, Sender
from pdata.vocabulary import CUMULATIVE_POINTS_DROPPED
from processors.chain import ProcessorChain
from processors.dedup import RequestDeduplicator
from processors.identity import IdentityResolver
from processors.temporality import CumulativeToDelta, DropReason
from tests.unit.test_processors import point

SAMPLE = CUMULATIVE_POINTS_DROPPED.sample


def _point(value: float, time_ns: int, start_ns: int = 1) -> MetricPoint:
    """Lines added by one user's session."""
    return point(value, time_ns, start_ns, **{"user.id": "u", "session.id": "s1"})


# One series' cumulative points in arrival order, and what each contributes.
SEQUENCE: list[tuple[MetricPoint, float | DropReason]] = [
    (_point(10, 100), 10.0),  # first point of the series: everything since its start
    (_point(10, 200), DropReason.UNCHANGED),  # re-exported while idle
    (_point(15, 300), 5.0),
    (_point(3, 400), 3.0),  # value drop: a reset, the new value counts in full
    (_point(12, 250), DropReason.STALE),  # older than the last point
    (_point(3, 400), DropReason.STALE),  # the same time as the last point (a replay)
    (_point(3, 500), DropReason.UNCHANGED),
    (_point(7, 600, start_ns=550), 7.0),  # a new start time: a reset
]


def _batch(digest: bytes) -> Batch:
    return Batch(
        signal="metrics", digest=digest, sender=Sender(), received_ns=1, points=[point for point, _ in SEQUENCE]
    )


def _chain() -> ProcessorChain:
    return ProcessorChain(IdentityResolver(), CumulativeToDelta(), RequestDeduplicator(10**12))


def _dropped(registry: CollectorRegistry) -> dict[str, float | None]:
    return {reason.value: registry.get_sample_value(SAMPLE, {"reason": reason.value}) for reason in DropReason}


def test_the_converter_gives_each_point_its_delta_or_its_drop_reason() -> None:
    converter = CumulativeToDelta()
    pending: dict = {}
    assert [converter.delta(9, point, pending) for point, _ in SEQUENCE] == [result for _, result in SEQUENCE]


def test_the_chain_counts_the_dropped_points_of_a_group_by_reason() -> None:
    group = _chain().process([_batch(b"r1")])
    assert [fact.delta for fact in group.points] == [10.0, 5.0, 3.0, 7.0]
    assert group.dropped_points == {DropReason.UNCHANGED: 2, DropReason.STALE: 2}


def test_the_self_metric_counts_each_reason_once_per_committed_group() -> None:
    registry = CollectorRegistry()
    metrics = SelfMetrics(registry)
    chain = _chain()
    metrics.watch_chain(chain)
    assert _dropped(registry) == {"stale": 0.0, "unchanged": 0.0}  # every reason exists from the start

    chain.process([_batch(b"r1")])  # the write failed: nothing committed, nothing counted
    assert _dropped(registry) == {"stale": 0.0, "unchanged": 0.0}

    group = chain.process([_batch(b"r1")])
    chain.commit(group)
    assert _dropped(registry) == {"stale": 2.0, "unchanged": 2.0}

    # The same request again is a duplicate (counted by the dedup, not here); the same points in another request
    # are all stale or unchanged against the committed state (last point: 7 at 600).
    chain.commit(chain.process([_batch(b"r1")]))
    assert _dropped(registry) == {"stale": 2.0, "unchanged": 2.0}
    chain.commit(chain.process([_batch(b"r2")]))
    assert _dropped(registry) == {"stale": 10.0, "unchanged": 2.0}
