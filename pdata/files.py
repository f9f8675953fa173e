"""Files the collector replaces whole (written aside, then renamed over the old one, so a reader or a crash finds
the old contents or the new ones, never half of them) or appends to whole (a write that fails leaves the file
as it was)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def fsync_directory(directory: Path) -> None:
    """Make a created, renamed or deleted entry of `directory` survive a power failure."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def replace_file(path: Path, chunks: Iterable[bytes], fsync: bool) -> None:
    """`path` holds exactly `chunks` (private to the collector's user). With `fsync`, the contents and the
    rename survive a power failure too; without, a process crash already cannot leave half a file."""
    aside = path.with_name(path.name + ".tmp")
    descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        try:
            for chunk in chunks:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(descriptor, view) :]
            if fsync:
                os.fsync(descriptor)
        finally:
            os.close(descriptor)
    except BaseException:
        # A full disk: what was written of it is not left holding room the next attempt needs.
        aside.unlink(missing_ok=True)
        raise
    os.replace(aside, path)
    if fsync:
        fsync_directory(path.parent)


class TornWrite(OSError):
    """A write failed, and what of it reached the file could not be cut away."""


def append_whole(descriptor: int, data: bytes, size: int) -> None:
    """Write `data` whole at the end of a file of `size` bytes opened with O_APPEND. When the write fails (a full
    disk: a write may also store part of it and report success), what of it reached the file is cut away, so the
    file ends where it did and the next append does not continue a torn one; TornWrite when even that failed."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(descriptor, view) :]
    except OSError as exc:
        try:
            os.ftruncate(descriptor, size)
        except OSError:
            raise TornWrite(exc.errno, exc.strerror) from exc
        raise
