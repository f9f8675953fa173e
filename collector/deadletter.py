"""The dead-letter file: batches the store refused while it answered, set aside for the operator.

A refused batch is answered as rejected (HTTP 400 / gRPC INVALID_ARGUMENT) and its sender drops it, so this
file is the only place its facts still exist. One JSON line per refused request: when, which signal, the
store's reason, the request digest, and the facts as they would have been stored. The facts have passed the
privacy filter (processors/privacy): without `privacy.store_content` they hold no prompt, response or tool
parameters, only what the store would have kept.

The file is bounded by `dead_letter.max_bytes`: past it, lines are not written (the collector's own metric
`cc_analytics_dead_letter_batches_total{outcome="not_written"}` and a log line say so); moving the file
away makes room again. A request refused again (its sender retried it) is written once, across restarts too:
the digests of the lines already in the file are read when the collector starts.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from pdata import Batch, EventFact, PointFact
from pdata.files import append_whole

log = logging.getLogger("cc_analytics.dead_letter")

# Refused requests remembered (what the file set aside, what the durable queue saw refused): a retry comes within
# seconds.
REMEMBERED_REFUSALS = 4096
# A line's own digest: the first key after time, signal and reason, whose text JSON escapes (no bare quote).
_LINE_DIGEST = re.compile(rb'"request_digest": ?"([0-9a-f]{32})"')

Outcome = Callable[[str], None]  # told "written" or "not_written" for each refused batch


class RefusedRequests:
    """The digests of the latest `capacity` requests the store refused for good, oldest first. The dead-letter
    file keeps those it set aside, so that a sender retrying one adds no second line. The durable queue keeps
    those its drain saw refused after they were acknowledged (collector/wal/drainer.py adds each one before it
    checkpoints past its record), so that a retry, finding the digest either still queued or here, is answered
    "duplicate" instead of being queued, drained and refused again."""

    def __init__(self, earlier: Iterable[bytes] = (), capacity: int = REMEMBERED_REFUSALS) -> None:
        """`earlier`: digests refused before this run, oldest first (those the dead-letter file holds)."""
        self._capacity = capacity
        self._digests: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()
        for digest in earlier:
            self.add(digest)

    def add(self, digest: bytes) -> None:
        with self._lock:
            self._digests[digest] = None
            self._digests.move_to_end(digest)
            if len(self._digests) > self._capacity:
                self._digests.popitem(last=False)

    def __contains__(self, digest: object) -> bool:
        with self._lock:
            return digest in self._digests

    def latest(self) -> list[bytes]:
        with self._lock:
            return list(self._digests)


class DeadLetterFile:
    def __init__(self, path: Path, max_bytes: int, outcome: Outcome = lambda _: None) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._outcome = outcome
        self._lock = threading.Lock()
        self._written = RefusedRequests(_digests_in(path))

    def written_digests(self) -> list[bytes]:
        """The digests of the latest requests set aside (up to 4 096), oldest first, this run's and the file's."""
        return self._written.latest()

    def set_aside(self, batch: Batch, reason: str, points: Sequence[PointFact], events: Sequence[EventFact]) -> bool:
        """Append one line for the refused `batch` (its facts `points` and `events`); False when it was not
        written (past the bound, already written, or the file cannot be written)."""
        with self._lock:
            if batch.digest in self._written:
                return False
            line = (json.dumps(_record(batch, reason, points, events), ensure_ascii=False) + "\n").encode()
            size = _size(self.path)
            if size + len(line) > self.max_bytes:
                self._not_written("dead_letter.full", batch, reason, {"size": size, "max_bytes": self.max_bytes})
                return False
            try:
                # 0600 like everything in the data directory: the facts name members.
                descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    append_whole(descriptor, line, size)
                finally:
                    os.close(descriptor)
            except OSError as exc:
                self._not_written("dead_letter.write_failed", batch, reason, {"error": str(exc)})
                return False
            self._written.add(batch.digest)
        self._outcome("written")
        log.warning(
            "dead_letter.set_aside",
            extra={"fields": {"path": str(self.path), "signal": batch.signal, "digest": batch.digest.hex(),
                              "facts": len(points) + len(events), "reason": reason}},
        )  # fmt: skip
        return True

    def _not_written(self, event: str, batch: Batch, reason: str, fields: dict[str, Any]) -> None:
        self._outcome("not_written")
        log.error(
            event,
            extra={"fields": {"path": str(self.path), "signal": batch.signal, "digest": batch.digest.hex(),
                              "reason": reason, **fields}},
        )  # fmt: skip


def _digests_in(path: Path) -> deque[bytes]:
    """The request digests of the file's last lines, oldest first; none when it cannot be read (logged)."""
    digests: deque[bytes] = deque(maxlen=REMEMBERED_REFUSALS)
    try:
        with path.open("rb") as file:
            for line in file:
                found = _LINE_DIGEST.search(line)
                if found:
                    digests.append(bytes.fromhex(found.group(1).decode()))
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.error("dead_letter.unreadable", extra={"fields": {"path": str(path), "error": str(exc)}})
    return digests


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _record(batch: Batch, reason: str, points: Sequence[PointFact], events: Sequence[EventFact]) -> dict[str, Any]:
    record: dict[str, Any] = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "signal": batch.signal,
        "reason": reason,
        "request_digest": batch.digest.hex(),
        "received_ns": batch.received_ns,
        "sender": batch.sender.token_name,
    }
    if batch.signal == "metrics":
        record["points"] = [_point(fact) for fact in points]
    else:
        record["events"] = [_event(fact) for fact in events]
    return record


def _member(fact: PointFact | EventFact) -> dict[str, str]:
    member = fact.member
    return {"member": member.member, "kind": member.kind, "organization_id": member.organization_id,
            "team": member.team}  # fmt: skip


def _point(fact: PointFact) -> dict[str, Any]:
    point = fact.point  # as the privacy filter left it
    return {
        "metric": point.metric, "unit": point.unit, "temporality": point.temporality, "start_ns": point.start_ns,
        "time_ns": point.time_ns, "value": point.value, "delta": fact.delta, "fact": fact.fact,
        "tool_name": fact.tool_name, "series_key": fact.series_key, "member": _member(fact),
        "attributes": point.attributes, "resource": point.resource,
    }  # fmt: skip


def _event(fact: EventFact) -> dict[str, Any]:
    event = fact.event  # its body as the privacy filter left it; its attributes are the fact's, filtered
    return {
        "name": event.name, "time_ns": event.time_ns, "body": event.body, "severity": event.severity,
        "tool_name": fact.tool_name, "member": _member(fact), "attributes": fact.attributes,
        "resource": event.resource,
    }  # fmt: skip
