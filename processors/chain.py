"""The processor chain the collector runs on every accepted batch, in order."""

from __future__ import annotations

from dataclasses import dataclass, field

from pdata import Batch, EventFact, PointFact
from processors.dedup import RequestDeduplicator
from processors.derive import fact_of, redact, tool_name_of
from processors.identity import IdentityResolver
from processors.temporality import CumulativeToDelta, SeriesState, series_key

_MINUTE_NS = 60 * 1_000_000_000
_DAY_NS = 24 * 60 * _MINUTE_NS


@dataclass(slots=True)
class ProcessedGroup:
    """The facts of a group of batches, and the state to commit once they are durable."""

    points: list[PointFact] = field(default_factory=list)
    events: list[EventFact] = field(default_factory=list)
    duplicates: set[int] = field(default_factory=set)
    series: dict[int, SeriesState] = field(default_factory=dict)
    digests: dict[bytes, int] = field(default_factory=dict)
    stale_points: int = 0


class ProcessorChain:
    def __init__(
        self,
        identity: IdentityResolver,
        converter: CumulativeToDelta,
        deduplicator: RequestDeduplicator,
        store_content: bool = False,
        state_window_ns: int = 35 * _DAY_NS,
    ) -> None:
        self.identity = identity
        self.converter = converter
        self.deduplicator = deduplicator
        self.store_content = store_content
        self.state_window_ns = state_window_ns
        self._next_state_expiry_ns = 0

    def process(self, batches: list[Batch]) -> ProcessedGroup:
        group = ProcessedGroup()
        if batches:
            # Forget requests older than the dedup window (bounded memory; same window as after a restart).
            latest_ns = max(batch.received_ns for batch in batches)
            self.deduplicator.expire(latest_ns)
            if latest_ns >= self._next_state_expiry_ns:
                # Series ids include session.id, so idle series pile up: drop those a restart would not
                # restore either. Scanning the state is O(series): do it once a minute at most.
                self.converter.expire(latest_ns - self.state_window_ns)
                self._next_state_expiry_ns = latest_ns + _MINUTE_NS
        for index, batch in enumerate(batches):
            if self.deduplicator.seen(batch.digest) or batch.digest in group.digests:
                group.duplicates.add(index)
                continue
            group.digests[batch.digest] = batch.received_ns
            self._process_points(batch, group)
            self._process_events(batch, group)
        return group

    def commit(self, group: ProcessedGroup) -> None:
        self.converter.commit(group.series)
        for digest, received_ns in group.digests.items():
            self.deduplicator.remember(digest, received_ns)

    def _process_points(self, batch: Batch, group: ProcessedGroup) -> None:
        identity_cache: dict[tuple[str, ...], object] = {}
        for point in batch.points:
            key = series_key(point, batch.sender)
            delta = self.converter.delta(key, point, group.series)
            if delta is None:
                group.stale_points += 1
                continue
            member = self._member(point.attributes, point.resource, batch, identity_cache)
            group.points.append(
                PointFact(
                    point=point,
                    member=member,
                    delta=delta,
                    series_key=key,
                    fact=fact_of(point),
                    tool_name=tool_name_of(point.attributes),
                    digest=batch.digest,
                    received_ns=batch.received_ns,
                )
            )

    def _process_events(self, batch: Batch, group: ProcessedGroup) -> None:
        identity_cache: dict[tuple[str, ...], object] = {}
        for event in batch.events:
            member = self._member(event.attributes, event.resource, batch, identity_cache)
            group.events.append(
                EventFact(
                    event=event,
                    member=member,
                    attributes=redact(event.attributes, self.store_content),
                    digest=batch.digest,
                    received_ns=batch.received_ns,
                )
            )

    def _member(self, attributes, resource, batch: Batch, cache: dict):
        # Identity attributes repeat on every point of a request: resolve each combination once.
        key = tuple(
            attributes.get(name) or resource.get(name) or ""
            for name in ("user.email", "user.account_id", "user.account_uuid", "user.id", "organization.id", "team.id")
        )
        member = cache.get(key)
        if member is None:
            member = self.identity.resolve(attributes, resource, batch.sender)
            cache[key] = member
        return member
