"""The queue's files under <data_dir>/wal/: numbered segment files of records, appended to one at a time.

A segment is `<id>.seg` (20 digits, so names sort as numbers). The collector appends to the newest one only and
starts a new one past SEGMENT_BYTES and at every start, so a segment found at start-up is never appended to
again (its torn tail, if any, is cut away first). A segment is deleted once every record in it is drained.
"""

from __future__ import annotations

import os
from pathlib import Path

from pdata.files import TornWrite, append_whole, fsync_directory

SEGMENT_SUFFIX = ".seg"
# Small enough that drained records leave the disk soon after, large enough that rotation is rare.
SEGMENT_BYTES = 64 * 1024 * 1024


def segment_path(directory: Path, segment: int) -> Path:
    return directory / f"{segment:020d}{SEGMENT_SUFFIX}"


def list_segments(directory: Path) -> list[int]:
    """The ids of the segment files in `directory`, oldest first (other files are not the queue's)."""
    found = []
    for path in directory.glob(f"*{SEGMENT_SUFFIX}"):
        stem = path.name.removesuffix(SEGMENT_SUFFIX)
        if stem.isdigit() and len(stem) == 20:
            found.append(int(stem))
    return sorted(found)


class SegmentWriter:
    """The segment being appended to. Writes go straight to the OS (no buffer of ours): once `append`
    returns, a process crash loses nothing; `sync` makes them survive a power failure too."""

    def __init__(self, directory: Path, segment: int, durable: bool) -> None:
        self.segment = segment
        self.size = 0
        self.whole = True  # False: a failed write left part of a record at its end
        path = segment_path(directory, segment)
        self._descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        if durable:
            fsync_directory(directory)

    def append(self, data: bytes) -> int:
        """Write `data` whole; returns the offset it starts at. When the write fails (a full disk), the bytes of
        it that reached the file are cut away, so the segment still ends with a whole record and the next one
        is appended to it; `whole` is False when even that failed."""
        offset = self.size
        try:
            append_whole(self._descriptor, data, offset)
        except TornWrite:
            self.whole = False
            raise
        self.size += len(data)
        return offset

    def sync(self) -> None:
        os.fsync(self._descriptor)

    def close(self) -> None:
        os.close(self._descriptor)


class SegmentReader:
    """Reads records back by position; keeps the segment it read last open (`segment`, -1 for none)."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self.segment = -1
        self._descriptor = -1

    def read(self, segment: int, offset: int, size: int) -> bytes:
        if segment != self.segment:
            self.close()
            self._descriptor = os.open(segment_path(self._directory, segment), os.O_RDONLY)
            self.segment = segment
        return os.pread(self._descriptor, size, offset)

    def close(self) -> None:
        if self._descriptor >= 0:
            os.close(self._descriptor)
        self.segment, self._descriptor = -1, -1
