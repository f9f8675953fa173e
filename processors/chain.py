"""The processor chain the collector runs on every accepted batch, in order."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pdata import CUMULATIVE, Batch, EventFact, Member, MetricPoint, PointFact
from processors.dedup import RequestDeduplicator
from processors.derive import fact_of, tool_name_of
from processors.identity import IdentityResolver
from processors.policy import ValuePolicy
from processors.privacy import PrivacyFilter
from processors.temporality import CumulativeToDelta, DropReason, SeriesState
from processors.temporality.converter import SeriesLimitReached, series_key_of, series_text

log = logging.getLogger("cc_analytics.processors")

_MINUTE_NS = 60 * 1_000_000_000
_DAY_NS = 24 * 60 * _MINUTE_NS
_RECALLED_EFFECT = "requests another collector already committed were delivered here again: acknowledged, counted once"

# Called with the cumulative points each committed group dropped, by reason (the collector's self-metrics).
DroppedPointsListener = Callable[[Mapping[DropReason, int]], None]


@dataclass(slots=True)
class ProcessedGroup:
    """The facts of a group of batches, and the state to commit once they are durable."""

    points: list[PointFact] = field(default_factory=list)
    events: list[EventFact] = field(default_factory=list)
    duplicates: set[int] = field(default_factory=set)
    series: dict[int, SeriesState] = field(default_factory=dict)
    digests: dict[bytes, int] = field(default_factory=dict)
    # Cumulative points that added nothing, by reason (only reasons that occurred are keys).
    dropped_points: dict[DropReason, int] = field(default_factory=dict)


class ProcessorChain:
    def __init__(
        self,
        identity: IdentityResolver,
        converter: CumulativeToDelta,
        deduplicator: RequestDeduplicator,
        store_content: bool = False,
        state_window_ns: int = 35 * _DAY_NS,
        policy: ValuePolicy | None = None,
    ) -> None:
        self.identity = identity
        self.converter = converter
        self.deduplicator = deduplicator
        self.store_content = store_content
        # Without a time window unless the collector sets one (tests replay fixed dates through the chain).
        self.policy = policy or ValuePolicy()
        self.privacy = PrivacyFilter(store_content)
        self.state_window_ns = state_window_ns
        self._next_state_expiry_ns = 0
        self.dropped_points_listeners: list[DroppedPointsListener] = []

    def process(self, batches: list[Batch], after: ProcessedGroup | None = None) -> ProcessedGroup:
        """The facts of `batches`, and the state to `commit` once they are durable. `after`: the group processed
        just before, whose write has not ended yet; this one is processed as if it were committed (its requests
        are duplicates here, its series' last points the base of these deltas), so the next group is ready when
        that write ends. If that write fails, this group is void: process it again without `after`."""
        group = ProcessedGroup()
        if after is None:
            self.converter.begin(group.series)
        else:
            self.converter.carry(after.series, group.series)
        if not batches:
            return group
        # Forget requests older than the dedup window (bounded memory; same window as after a restart).
        latest_ns = max(batch.received_ns for batch in batches)
        self.deduplicator.expire(latest_ns)
        if latest_ns >= self._next_state_expiry_ns:
            # Series ids include session.id, so idle series pile up: drop those a restart would not
            # restore either. Scanning the state is O(series): do it once a minute at most.
            self.converter.expire(latest_ns - self.state_window_ns)
            self._next_state_expiry_ns = latest_ns + _MINUTE_NS
        for batch in batches:
            # Before the duplicate check, so a retry is answered with the same partial success as the original.
            if not batch.screened:
                self.policy.screen(batch)
        # Replicas sharing a store: a request another replica committed is a duplicate here too (one query for
        # the group; nothing without a shared store).
        recalled = self.deduplicator.recall([batch.digest for batch in batches], latest_ns)
        if recalled:
            log.info("dedup.shared_duplicates", extra={"fields": {"requests": recalled, "effect": _RECALLED_EFFECT}})
        written = after.digests if after is not None else {}
        fresh: list[Batch] = []
        for index, batch in enumerate(batches):
            if self.deduplicator.seen(batch.digest) or batch.digest in group.digests or batch.digest in written:
                group.duplicates.add(index)
                continue
            group.digests[batch.digest] = batch.received_ns
            fresh.append(batch)
        keys = [_series_keys(batch) for batch in fresh]
        if self.converter.shared:
            # Another replica may have converted later points of these series: start from the store's last
            # point where it is newer (one query for the group).
            taken = self.converter.recall(_cumulative_keys(fresh, keys), latest_ns - self.state_window_ns)
            if taken:
                log.debug("temporality.shared_state", extra={"fields": {"series_from_store": taken}})
        for batch, batch_keys in zip(fresh, keys, strict=True):
            self._process_points(batch, batch_keys, group)
            self._process_events(batch, group)
        return group

    def commit(self, group: ProcessedGroup) -> None:
        # Series expire by when their points arrived (the group's latest request), never by the points' own time.
        self.converter.commit(group.series, max(group.digests.values(), default=None))
        for digest, received_ns in group.digests.items():
            self.deduplicator.remember(digest, received_ns)
        # Told only here, once the group is durable: a group written again batch by batch is counted once.
        if group.dropped_points:
            for listener in self.dropped_points_listeners:
                try:
                    listener(group.dropped_points)
                except Exception:  # what is committed stays committed: a listener's fault is only logged
                    log.exception("chain.dropped_points_listener_failed")

    def _process_points(self, batch: Batch, keys: list[int], group: ProcessedGroup) -> None:
        if not batch.points:
            return
        identity_cache: dict[tuple[str, ...], Member] = {}
        delta_of = self.converter.delta
        stored = self.privacy.point
        pending = group.series
        dropped = group.dropped_points
        append = group.points.append
        digest, received_ns = batch.digest, batch.received_ns
        over_limit: list[MetricPoint] = []
        for point, key in zip(batch.points, keys, strict=True):
            attributes = point.attributes
            try:
                delta = delta_of(key, point, pending)
            except SeriesLimitReached as limit:
                over_limit.append(point)
                limit_reason = str(limit)
                continue
            if isinstance(delta, DropReason):
                dropped[delta] = dropped.get(delta, 0) + 1
                continue
            # Key, member and fact come from the attributes as sent; only what may be stored is stored.
            append(
                PointFact(
                    stored(point),
                    self._member(attributes, point.resource, batch, identity_cache),
                    delta,
                    key,
                    fact_of(point),
                    tool_name_of(attributes),
                    digest,
                    received_ns,
                )
            )
        if over_limit:
            _refuse_points(batch, over_limit, limit_reason)

    def _process_events(self, batch: Batch, group: ProcessedGroup) -> None:
        if not batch.events:
            return
        identity_cache: dict[tuple[str, ...], Member] = {}
        stored = self.privacy.event
        append = group.events.append
        digest, received_ns = batch.digest, batch.received_ns
        for event in batch.events:
            attributes = event.attributes
            stored_event, stored_attributes = stored(event)
            append(
                EventFact(
                    stored_event,
                    self._member(attributes, event.resource, batch, identity_cache),
                    stored_attributes,
                    digest,
                    received_ns,
                    tool_name_of(attributes),
                )
            )

    def _member(
        self, attributes: dict[str, str], resource: dict[str, str], batch: Batch, cache: dict[tuple[str, ...], Member]
    ) -> Member:
        # Identity attributes repeat on every point of a request: resolve each combination once.
        key = self.identity.key(attributes, resource)
        member = cache.get(key)
        if member is None:
            member = self.identity.resolve(attributes, resource, batch.sender)
            cache[key] = member
        return member


def _series_keys(batch: Batch) -> list[int]:
    """The series key of each of the batch's points, in order."""
    # The resource (one dict shared by a request's points) and the sender are hashed into every series key:
    # encode them once per request.
    resource_texts: dict[int, str] = {}
    sender_text = batch.sender.api_key_id + batch.sender.organization_id
    keys: list[int] = []
    for point in batch.points:
        resource = point.resource
        resource_text = resource_texts.get(id(resource))
        if resource_text is None:
            resource_text = resource_texts[id(resource)] = series_text(resource)
        keys.append(series_key_of(point.metric, resource_text, point.attributes, sender_text))
    return keys


def _cumulative_keys(batches: list[Batch], keys: list[list[int]]) -> set[int]:
    return {
        key
        for batch, batch_keys in zip(batches, keys, strict=True)
        for point, key in zip(batch.points, batch_keys, strict=True)
        if point.temporality == CUMULATIVE
    }


def _refuse_points(batch: Batch, refused: list[MetricPoint], reason: str) -> None:
    """Refused points leave the batch and are answered as partial success (processing the batch again, as the
    pipeline does batch by batch after a failed group write, refuses nothing more)."""
    gone = {id(point) for point in refused}
    batch.points = [point for point in batch.points if id(point) not in gone]
    batch.rejected += len(refused)
    batch.rejected_reason = "; ".join(part for part in (batch.rejected_reason, reason) if part)
