"""How far the queue is drained: the position after the last record the store took (or refused for good),
kept in <data_dir>/wal/checkpoint. Written whole or not at all (a temporary file, fsync, rename), so a crash
leaves the previous checkpoint or the new one, never a mix; a record drained after the checkpoint was written
is replayed after a crash and recognised by its request digest."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from pdata.files import replace_file

log = logging.getLogger("cc_analytics.queue")

CHECKPOINT_FILE = "checkpoint"
_VERSION = 1


@dataclass(frozen=True, slots=True, order=True)
class Position:
    segment: int
    offset: int


def read_checkpoint(directory: Path) -> Position | None:
    """The last checkpoint, or None when there is none. One that cannot be read is logged and taken as none:
    the whole queue is then replayed, and what was already stored is recognised by its digest."""
    path = directory / CHECKPOINT_FILE
    try:
        document = json.loads(path.read_bytes())
        if document["version"] != _VERSION:
            raise ValueError(f"version {document['version']}")
        return Position(int(document["segment"]), int(document["offset"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.error(
            "queue.checkpoint_unreadable",
            extra={"fields": {"file": str(path), "error": str(exc), "effect": "every queued record is replayed"}},
        )
        return None


def write_checkpoint(directory: Path, position: Position) -> None:
    path = directory / CHECKPOINT_FILE
    document = {"version": _VERSION, "segment": position.segment, "offset": position.offset}
    replace_file(path, [json.dumps(document).encode()], fsync=True)
