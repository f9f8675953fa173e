"""The dead-letter file (collector/deadletter.py) on a real full disk: a line that finds no room is not left
torn, so the lines written before and after it stay whole JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path

from collector.deadletter import DeadLetterFile
from pdata import Batch, MetricPoint, Sender
from tests.support.small_disk import small_disk

NOW_NS = 1_700_000_000_000_000_000


def _batch(index: int) -> Batch:
    point = MetricPoint("claude_code.cost.usage", "USD", 1, True, 0, NOW_NS, 0.5, {"user.id": "u1"}, {})
    return Batch("metrics", index.to_bytes(16, "big"), Sender(), NOW_NS, points=[point], screened=True)  # type: ignore[arg-type]


def test_a_line_that_finds_no_room_is_cut_away_and_the_file_stays_whole_lines(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", 64 * 1024) as disk:
        dead_letters = DeadLetterFile(disk / "dead-letter.jsonl", max_bytes=1024 * 1024)
        assert dead_letters.set_aside(_batch(1), "refused: first", [], [])
        before = (disk / "dead-letter.jsonl").stat().st_size
        filler = disk / "filler"
        stats = os.statvfs(disk)
        filler.write_bytes(b"\0" * (stats.f_bavail * stats.f_frsize - 4096))  # one page left: part of a line fits
        long_reason = "refused: " + "x" * 8000  # a line of two pages
        assert not dead_letters.set_aside(_batch(2), long_reason, [], [])
        assert (disk / "dead-letter.jsonl").stat().st_size == before
        filler.unlink()
        assert dead_letters.set_aside(_batch(2), long_reason, [], [])
        lines = (disk / "dead-letter.jsonl").read_bytes().splitlines()
        assert [json.loads(line)["reason"] for line in lines] == ["refused: first", long_reason]
