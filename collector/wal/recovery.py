"""Start-up: what the queue's files hold that was not drained, read from the checkpoint on.

Every segment from the checkpoint's is scanned. Damage (a torn write at the tail, a flipped bit anywhere) is
logged as `queue.corrupt_record` with the segment, offset and bytes skipped, counted, and skipped: the records
before and after it are kept. Damage that runs to the end of a segment is cut away, so it is not met again.

A record of a format version this collector does not know (a newer collector wrote it, and was replaced by an
older one before its queue was drained) is refused: UnknownFormat, with the segment and what to do, and the
collector does not start in wal mode; every file is left in place for the version that can read it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from collector.wal import codec
from collector.wal.checkpoint import Position, read_checkpoint
from collector.wal.frame import FORMAT_VERSION, Damage, Record, scan
from collector.wal.segments import list_segments, segment_path

log = logging.getLogger("cc_analytics.queue")


@dataclass(slots=True)
class RecordRef:
    """Where a pending record is and what the queue needs to know of it without reading it."""

    segment: int
    offset: int
    size: int
    digest: bytes
    received_ns: int
    items: int
    replayed: bool = False  # appended by an earlier run of the collector

    @property
    def end(self) -> Position:
        return Position(self.segment, self.offset + self.size)


@dataclass(slots=True)
class Recovered:
    records: list[RecordRef] = field(default_factory=list)
    checkpoint: Position | None = None
    corrupt_records: int = 0
    next_segment: int = 1


class UnknownFormat(Exception):
    """The queue holds records this collector cannot read; the message says which and what to do."""


def report_damage(segment: int, damage: Damage | str, offset: int, size: int) -> None:
    reason = damage.reason if isinstance(damage, Damage) else damage
    log.error(
        "queue.corrupt_record",
        extra={
            "fields": {
                "segment": segment,
                "offset": offset,
                "bytes_skipped": size,
                "reason": reason,
                "effect": "the damaged record is skipped; the records before and after it are drained",
            }
        },
    )


def recover(directory: Path) -> Recovered:
    found = Recovered(checkpoint=read_checkpoint(directory))
    segments = list_segments(directory)
    checkpoint = found.checkpoint
    found.next_segment = max([*segments, checkpoint.segment if checkpoint else 0]) + 1
    for segment in segments:
        if checkpoint is not None and segment < checkpoint.segment:
            continue  # drained; deleted once the queue is open
        start = checkpoint.offset if checkpoint is not None and segment == checkpoint.segment else 0
        _recover_segment(directory, segment, start, found)
    return found


def _recover_segment(directory: Path, segment: int, start: int, found: Recovered) -> None:
    path = segment_path(directory, segment)
    data = path.read_bytes()
    for item in scan(data, min(start, len(data))):
        if isinstance(item, Damage):
            report_damage(segment, item, item.offset, item.size)
            found.corrupt_records += 1
            if item.at_tail:
                os.truncate(path, item.offset)
            continue
        if item.version != FORMAT_VERSION:
            raise UnknownFormat(
                f"queue.mode=wal: {path} holds records of queue format version {item.version} (offset "
                f"{item.offset}); this collector reads version {FORMAT_VERSION}. Run the collector version that "
                "wrote them until its queue is drained (queue bytes 0), or set queue.mode=memory meanwhile; the "
                "files are left as they are"
            )
        _keep(segment, item, found)


def _keep(segment: int, record: Record, found: Recovered) -> None:
    try:
        summary = codec.summary(record.payload)
    except ValueError as exc:
        report_damage(segment, str(exc), record.offset, record.size)
        found.corrupt_records += 1
        return
    found.records.append(
        RecordRef(segment, record.offset, record.size, summary.digest, summary.received_ns, summary.items, True)
    )
