"""Files the collector replaces whole: written aside, then renamed over the old one, so a reader or a crash
finds the old contents or the new ones, never half of them."""

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
