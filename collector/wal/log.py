"""The durable queue's state: its segment files, the records appended and not yet drained, the checkpoint.

One thread appends (collector/wal/appender.py) and one drains (collector/wal/drainer.py); the receivers' threads
ask whether a digest is pending and how full the queue is. A lock guards what they share.
"""

from __future__ import annotations

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
        self._guard: DirectoryGuard | None = None
        self.corrupt_records = 0  # found at start-up and while draining
        self.last_append_at = -math.inf  # time.monotonic() of the last append (the clock starts at boot: not 0.0)

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
        """Write one framed record; it is pending (and visible to the drainer) once this returns."""
        writer = self._writer
        if writer is not None and writer.size and writer.size + len(record) > self._segment_bytes:
            if self._durable:
                writer.sync()
            writer.close()
            writer = self._writer = None
        if writer is None:
            writer = self._writer = SegmentWriter(self.directory, self._next_segment, self._durable)
            self._next_segment += 1
        try:
            offset = writer.append(record)
        except OSError:
            # Part of the record may be on disk: never append after it in this segment (offsets would be off);
            # the scan at the next start skips the torn bytes.
            self._writer = None
            writer.close()
            raise
        ref = RecordRef(writer.segment, offset, len(record), summary.digest, summary.received_ns, summary.items)
        with self._lock:
            self._add(ref)
            self.last_append_at = time.monotonic()
            self._appended.notify_all()
        return ref

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
        write_checkpoint(self.directory, position)
        self._delete_drained_segments()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.sync()
            self._writer.close()
            self._writer = None
        self._reader.close()

    # --- internals ------------------------------------------------------------------------------------------

    def _add(self, ref: RecordRef) -> None:
        self._pending.append(ref)
        self._pending_bytes += ref.size
        self._pending_digests[ref.digest] = self._pending_digests.get(ref.digest, 0) + 1

    def _delete_drained_segments(self) -> None:
        """Every segment before the oldest one holding a pending record, except the one being appended to."""
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
        if deleted and self._durable:
            fsync_directory(self.directory)


__all__ = ["Position", "RecordRef", "WriteAheadLog"]
