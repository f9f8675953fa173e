"""The memory rows of the queue.mode=wal table (bench/overload.py, bench/report.py): the goal is judged on the
process tree's RSS; beside it the anonymous part, what the processes allocated apart from the pages of the files
they map. Not timed; the figures belong to `make bench`."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from bench.common import Resident, resident
from bench.report import durable_rows

MIB = 2**20


def test_the_anonymous_part_grows_by_what_a_process_allocates_and_its_rss_with_it() -> None:
    before = resident(os.getpid())
    assert 0 < before.anonymous < before.rss
    held = bytearray(b"\x01" * (64 * MIB))  # written, so every page is resident
    after = resident(os.getpid())
    assert after.anonymous - before.anonymous >= 60 * MIB
    assert after.rss - before.rss >= 60 * MIB
    del held


def test_a_process_that_is_gone_has_no_memory() -> None:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    assert resident(int(child.stdout)) == Resident(0, 0)


def _overload(**anonymous: Any) -> dict[str, Any]:
    return {
        "protocol": "grpc",
        "collector": "workers 2",
        "processes": 2,
        "offered_items_per_s": 36_000,
        "accepted_items_per_s": 17_000.0,
        "baseline_rss_mb": 391,
        "peak_rss_mb": 811,
        "refused": {"RESOURCE_EXHAUSTED": 78},
        "refused_with_retry_after": {"RESOURCE_EXHAUSTED": 78},
        "acknowledged_all_visible": True,
        "per_process_rss_mb": [
            {"process": "writer", "idle": 334, "peak": 645, **anonymous.get("writer", {})},
            {"process": "receiver", "idle": 57, "peak": 178, **anonymous.get("receiver", {})},
        ],
        **anonymous.get("tree", {}),
    }


def test_the_row_gives_the_anonymous_part_beside_the_rss_the_goal_is_judged_on() -> None:
    over = _overload(
        tree={"baseline_anonymous_mb": 180, "peak_anonymous_mb": 540},
        writer={"idle_anonymous": 139, "peak_anonymous": 390},
        receiver={"idle_anonymous": 41, "peak_anonymous": 160},
    )
    [row] = durable_rows({"overload_wal": [over]})
    assert row == (
        "| peak memory at 2× overload, grpc, workers 2 | 811 MB = idle 391 MB + 420 MB (RSS summed over 2 processes, "
        "of which anonymous 180 → 540 MB (+ 360 MB); each at its own peak: writer 334 → 645 MB (anonymous 139 → 390), "
        "receiver 57 → 178 MB (anonymous 41 → 160)); offered 36,000/s (2× the acknowledged rate above), accepted "
        "17,000/s; refused 78 (RESOURCE_EXHAUSTED), 78 with Retry-After; acknowledged all in API: True | ≤ idle + "
        "100 MB, excess refused with Retry-After | **no** |"
    )


def test_a_run_recorded_before_the_anonymous_part_was_measured_reads_as_it_did() -> None:
    [row] = durable_rows({"overload_wal": [_overload()]})
    assert (
        "811 MB = idle 391 MB + 420 MB (RSS summed over 2 processes; each at its own peak: writer 334 → 645 MB, "
        "receiver 57 → 178 MB)" in row
    )
