"""The label sets of the exposed counter series, kept on disk so that a restarted collector shows them again.

Why: a counter series that vanishes when the collector restarts ends in Prometheus, and `increase()` over a
range after its end is extrapolated instead of exact. Restored at 0, the series stays continuous: Prometheus
reads the drop from its last value to 0 as a counter reset and keeps every increment it had seen.

Label sets and the time each series last had a point are stored. Values are stored only by a graceful stop,
after the pipeline has drained, so they are final; the next start takes them and at once rewrites the file
without them. A value read after a crash could be older than what Prometheus already scraped, and a smaller
value would be read as a reset and count twice: so a crash restores series at 0, a graceful stop with their
values (increments committed after the last scrape before the stop are then not lost either).

Format: one JSON object per line, `{"m": family, "n": [label names], "v": [label values], "t": unix seconds}`,
plus `"x": value` and `"h": true` (the series was still held at 0) after a graceful stop.
New series are appended as they appear (flushed to the OS, so a killed process keeps them); the file is
rewritten whole, atomically, when series expire and periodically to refresh the last-seen times. A torn last
line (power loss while appending) is skipped.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

log = logging.getLogger("cc_analytics.exporter.prometheus")


@dataclass(frozen=True, slots=True)
class JournalRecord:
    family: str
    label_names: tuple[str, ...]
    key: tuple[str, ...]
    last_seen_unix: float
    value: float | None = None  # final value, written by a graceful stop only
    held: bool = False  # the series was still held at 0 when the collector stopped


class SeriesJournal:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._file: IO[str] | None = None

    def load(self) -> list[JournalRecord]:
        """Every record of the file, the last one per series winning; unreadable lines are skipped."""
        if not self.path.exists():
            return []
        records: dict[tuple[str, tuple[str, ...], tuple[str, ...]], JournalRecord] = {}
        skipped = 0
        with self.path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                record = _parse(line)
                if record is None:
                    skipped += 1 if line.strip() else 0
                    continue
                records[(record.family, record.label_names, record.key)] = record
        if skipped:
            log.warning("exporter.journal_lines_skipped", extra={"fields": {"path": str(self.path), "lines": skipped}})
        return list(records.values())

    def append(self, records: Iterable[JournalRecord]) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        for record in records:
            self._file.write(_line(record))
        self._file.flush()

    def rewrite(self, records: Iterable[JournalRecord]) -> None:
        """Replace the file by exactly these records (write a sibling, then rename over it)."""
        self.close()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        with temporary.open("w", encoding="utf-8") as out:
            out.writelines(_line(record) for record in records)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _line(record: JournalRecord) -> str:
    document: dict[str, object] = {
        "m": record.family, "n": record.label_names, "v": record.key, "t": round(record.last_seen_unix, 3),
    }  # fmt: skip
    if record.value is not None:
        document["x"] = record.value
        if record.held:
            document["h"] = True
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False) + "\n"


def _parse(line: str) -> JournalRecord | None:
    try:
        document = json.loads(line)
        names = tuple(str(name) for name in document["n"])
        key = tuple(str(value) for value in document["v"])
        if len(names) != len(key):
            return None
        value = float(document["x"]) if "x" in document else None
        held = bool(document.get("h", False))
        return JournalRecord(str(document["m"]), names, key, float(document["t"]), value, held)
    except (ValueError, KeyError, TypeError):
        return None
