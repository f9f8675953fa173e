"""The durable queue's state: its segment files, the records appended and not yet drained, the checkpoint.

One thread appends (collector/wal/appender.py) and one drains (collector/wal/drainer.py); the receivers' threads
ask whether a digest is pending and how full the queue is. A lock guards what they share.
"""

from __future__ import annotations

import errno
import itertools
import logging
import math
import os
import threading
import time
from collections import deque
from pathlib import Path

from collector.dirguard import DirectoryGuard
from collector.wal.checkpoint import Position, write_checkpoint
from collector.wal.codec import Summary
from collector.wal.frame import Record, read_record
from collector.wal.recovery import RecordRef, recover
from collector.wal.segments import (
    SEGMENT_BYTES,
    SegmentReader,
    SegmentWriter,
    list_segments,
    segment_path,
)
from pdata.files import fsync_directory

log = logging.getLogger("cc_analytics.queue")

# A full disk, or the collector's share of it (a quota).
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


class WriteAheadLog:
    def __init__(self, directory: Path, durable: bool, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.directory = directory
        self._durable = durable  # fsync new segments' directory entries and each segment before it is closed
        self._segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._appended = threading.Condition(self._lock)
        self._pending: deque[RecordRef] = deque()
        self._pending_digests: dict[bytes, int] = {}
        self._pending_bytes = 0
        self._writer: SegmentWriter | None = None
        self._next_segment = 1
        self._reader = SegmentReader(directory)
        # The drainer reads through the reader; the appender may close it (_delete_drained_segments).
        self._read_lock = threading.Lock()
        self._guard: DirectoryGuard | None = None
        self.corrupt_records = 0  # found at start-up and while draining
        self.last_append_at = -math.inf  # time.monotonic() of the last append (the clock starts at boot: not 0.0)
        self._space_wanted = 0  # the size of a record the last append found no room for; 0 once one is written

    def open(self) -> int:
        """Recover what an earlier run left undrained; returns how many records are pending."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._guard = DirectoryGuard(self.directory, "the durable queue's directory", "queue.directory_lost", log)
        recovered = recover(self.directory)
        self.corrupt_records += recovered.corrupt_records
        self._next_segment = recovered.next_segment
        for ref in recovered.records:
            self._add(ref)
        self._delete_drained_segments()
        log.info(
            "queue.opened",
            extra={
                "fields": {
                    "directory": str(self.directory),
                    "pending_records": len(self._pending),
                    "pending_bytes": self._pending_bytes,
                    "corrupt_records": recovered.corrupt_records,
                }
            },
        )
        return len(self._pending)

    # --- read by any thread ---------------------------------------------------------------------------------

    def directory_problem(self) -> str:
        """Why a record appended now would not be kept (its directory deleted or replaced since `open`); empty
        when it would, and before `open`."""
        return self._guard.problem() if self._guard is not None else ""

    @property
    def pending_bytes(self) -> int:
        return self._pending_bytes

    def pending_records(self) -> int:
        return len(self._pending)

    def oldest_received_ns(self) -> int | None:
        with self._lock:
            return self._pending[0].received_ns if self._pending else None

    def is_pending(self, digest: bytes) -> bool:
        with self._lock:
            return digest in self._pending_digests

    # --- the appender's -------------------------------------------------------------------------------------

    def append(self, record: bytes, summary: Summary) -> RecordRef:
        """Write one framed record; it is pending (and visible to the drainer) once this returns. On a full
        disk, a segment being appended to whose records are all drained is left and deleted, and the record
        written to a new one: a segment is otherwise deleted only once left, so records the store already has
        would hold the disk the next ones need."""
        try:
            ref = self._write(record, summary)
        except OSError as exc:
            if exc.errno not in _NO_SPACE:
                raise
            self._space_wanted = len(record)
            if not self.leave_drained_segment():
                raise
            ref = self._write(record, summary)
        self._space_wanted = 0
        return ref

    def _write(self, record: bytes, summary: Summary) -> RecordRef:
        writer = self._writer
        if writer is not None and writer.size and writer.size + len(record) > self._segment_bytes:
            self._leave_segment(writer)
            writer = None
        if writer is None:
            writer = self._writer = SegmentWriter(self.directory, self._next_segment, self._durable)
            self._next_segment += 1
        try:
            offset = writer.append(record)
        except OSError:
            if not writer.whole:
                # Part of the record stayed on disk: never append after it in this segment (offsets would be
                # off); the scan at the next start skips the torn bytes.
                self._writer = None
                writer.close()
            raise
        ref = RecordRef(writer.segment, offset, len(record), summary.digest, summary.received_ns, summary.items)
        with self._lock:
            self._add(ref)
            self.last_append_at = time.monotonic()
            self._appended.notify_all()
        return ref

    def free_bytes(self) -> int:
        """What the queue's disk has free for it, with the room of the segment being appended to when every
        record in it is drained (a queue short of room leaves it: `make_room`, `leave_drained_segment`)."""
        stats = os.statvfs(self.directory)
        free = stats.f_bavail * stats.f_frsize
        writer = self._writer
        if writer is not None and not self._holds_pending(writer.segment):
            free += writer.size
        return free

    def make_room(self, min_segment_bytes: int) -> bool:
        """For a queue short of room on its disk: leave the segment being appended to, so that its drained
        records give their room back, at once when they all are (it is deleted), else as soon as they are (a
        segment is deleted once left and drained). Left only from `min_segment_bytes` on, so that a queue short
        of room does not open a file per request. True when it was left."""
        writer = self._writer
        if writer is None or writer.size < min_segment_bytes:
            return False
        if not self._holds_pending(writer.segment):
            return self.leave_drained_segment()
        self._leave_segment(writer)
        return True

    def _leave_segment(self, writer: SegmentWriter) -> None:
        """Stop appending to `writer`'s segment (synced first when durable: its records stay until drained); the
        next record starts a new one."""
        if self._durable:
            writer.sync()
        self._writer = None
        writer.close()

    def leave_drained_segment(self) -> bool:
        """Close and delete the segment being appended to when it holds records and none is pending; True when a
        segment was deleted."""
        writer = self._writer
        if writer is None or not writer.size or self._holds_pending(writer.segment):
            return False
        self._writer = None
        writer.close()
        return self._delete_drained_segments()

    def _holds_pending(self, segment: int) -> bool:
        # Records are pending in the order they were appended: the newest is in the segment appended to last.
        with self._lock:
            return bool(self._pending) and self._pending[-1].segment == segment

    def space_problem(self) -> str:
        """Why the next record may not fit on the queue's disk: the last append found it full, and the room it
        wanted is still not free (`free_bytes`); empty otherwise."""
        wanted = self._space_wanted
        if not wanted:
            return ""
        try:
            free = self.free_bytes()
        except OSError as exc:
            return f"the durable queue's disk cannot be read: {exc.strerror or exc}"
        if free >= wanted:
            return ""
        return (
            f"the durable queue's disk is full ({free} bytes free, {wanted} wanted): records wait for the store "
            "to take them"
        )

    def sync(self) -> None:
        if self._writer is not None:
            self._writer.sync()

    # --- the drainer's --------------------------------------------------------------------------------------

    def head(self, max_items: int, timeout_s: float, skip: int = 0) -> list[RecordRef]:
        """The oldest pending records after the first `skip` (handed to the store already, not yet drained), up to
        `max_items` points + events (at least one record), waiting up to `timeout_s` for one to be appended."""
        with self._lock:
            if len(self._pending) <= skip and timeout_s > 0:
                self._appended.wait(timeout_s)
            taken: list[RecordRef] = []
            items = 0
            for ref in itertools.islice(self._pending, skip, None):
                if taken and items + ref.items > max_items:
                    break
                taken.append(ref)
                items += ref.items
            return taken

    def read(self, ref: RecordRef) -> Record | str:
        """The record `ref` points at, or why it can no longer be read (damaged since it was written)."""
        try:
            with self._read_lock:
                data = self._reader.read(ref.segment, ref.offset, ref.size)
        except OSError as exc:
            return f"unreadable: {exc.strerror or exc}"
        return read_record(data, 0)

    def drained(self, count: int) -> None:
        """The `count` oldest pending records are done with (stored, recognised as stored, or refused for good):
        checkpoint after them and delete the segments that hold nothing pending any more."""
        if count == 0:
            return
        with self._lock:
            for _ in range(count):
                ref = self._pending.popleft()
                self._pending_bytes -= ref.size
                left = self._pending_digests[ref.digest] - 1
                if left:
                    self._pending_digests[ref.digest] = left
                else:
                    del self._pending_digests[ref.digest]
            position = ref.end
        try:
            write_checkpoint(self.directory, position)
        except OSError:
            # The drained segments are deleted all the same: a checkpoint behind them only makes a restart replay
            # records the store has (recognised by their digests), and on a full disk their room is what this
            # checkpoint and the next records need.
            if not self._delete_drained_segments():
                raise
            write_checkpoint(self.directory, position)
            return
        self._delete_drained_segments()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.sync()
            self._writer.close()
            self._writer = None
        with self._read_lock:
            self._reader.close()

    # --- internals ------------------------------------------------------------------------------------------

    def _add(self, ref: RecordRef) -> None:
        self._pending.append(ref)
        self._pending_bytes += ref.size
        self._pending_digests[ref.digest] = self._pending_digests.get(ref.digest, 0) + 1

    def _delete_drained_segments(self) -> bool:
        """Every segment before the oldest one holding a pending record, except the one being appended to; True
        when one was deleted."""
        with self._lock:
            first_needed = self._pending[0].segment if self._pending else self._next_segment
        if self._writer is not None:
            first_needed = min(first_needed, self._writer.segment)
        deleted = False
        for segment in list_segments(self.directory):
            if segment >= first_needed:
                break
            try:
                os.unlink(segment_path(self.directory, segment))
                deleted = True
            except FileNotFoundError:
                pass
        if deleted:
            # A deleted segment's room is freed once no descriptor holds it: the reader's is let go of.
            with self._read_lock:
                if 0 <= self._reader.segment < first_needed:
                    self._reader.close()
            if self._durable:
                fsync_directory(self.directory)
        return deleted


__all__ = ["Position", "RecordRef", "WriteAheadLog"]
