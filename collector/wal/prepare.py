"""What of an accepted request goes to disk: the value policy's verdict and the privacy filter's output.

The policy screen runs on the receiver's batch itself, before the append, so the request is answered with its
partial success (counts and reasons) at once, and a retry gets the same answer. The privacy filter runs before
the append so no prompt, tool parameter or free text reaches the queue's files unless `privacy.store_content`
is on; the pipeline filters again when it drains the record, which changes nothing more.

The cumulative series key is computed from a point's attributes as sent (processors/chain.py); the filter may
drop or shorten some of them. So that two series that differ only in a dropped attribute stay two series when
the record is drained, a point whose attributes the filter changed carries SERIES_ATTRIBUTE: a hash of what was
removed (never the text), which the series key includes and the drain-time filter drops again before storing.
"""

from __future__ import annotations

from hashlib import blake2b

from pdata import Batch, LogEvent, MetricPoint
from processors.policy import ValuePolicy
from processors.privacy import PrivacyFilter

# Not on any allow-list, and its value ("h:" + hex) is no number: the privacy filter never stores it.
SERIES_ATTRIBUTE = "cc_analytics.series_attributes"


def prepare(batch: Batch, policy: ValuePolicy, privacy: PrivacyFilter) -> Batch:
    """Screen `batch` (in place: the receiver answers from it) and return what may be written to disk."""
    policy.screen(batch)
    return Batch(
        signal=batch.signal,
        digest=batch.digest,
        sender=batch.sender,
        received_ns=batch.received_ns,
        points=[_point(point, privacy) for point in batch.points],
        events=[_event(event, privacy) for event in batch.events],
        rejected=batch.rejected,
        rejected_reason=batch.rejected_reason,
        screened=True,
    )


def _point(point: MetricPoint, privacy: PrivacyFilter) -> MetricPoint:
    stored = privacy.point(point)
    if stored is point:
        return point
    removed = sorted(item for item in point.attributes.items() if stored.attributes.get(item[0]) != item[1])
    text = "\x00".join(f"{key}\x01{value}" for key, value in removed)
    stored.attributes = {
        **stored.attributes,
        SERIES_ATTRIBUTE: "h:" + blake2b(text.encode(), digest_size=8).hexdigest(),
    }
    return stored


def _event(event: LogEvent, privacy: PrivacyFilter) -> LogEvent:
    stored, attributes = privacy.event(event)
    if stored is event and attributes is event.attributes:
        return event
    return LogEvent(
        stored.time_ns, stored.name, stored.body, attributes, stored.resource, stored.scope, stored.severity
    )
