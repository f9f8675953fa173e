"""Each collector process hands the heap memory it freed back to the system (collector/freedmemory.py): after a
burst that freed a quarter of a gigabyte in small pieces, scattered between pieces still in use, the process's
resident memory falls back within the next trims; without them it stays. Measured in a fresh process, as the real
allocator (glibc's malloc) leaves it, by the anonymous memory the kernel counts for it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from collector.freedmemory import FreedMemoryTrimmer, glibc_trim

ROOT = Path(__file__).resolve().parents[2]
MIB = 2**20

# A burst on a thread of its own (so in a malloc arena of that thread, as a receiver's or the inserter's), 400 000
# objects of ~640 bytes (past Python's small-object allocator, so from malloc), one in 64 kept: every free page
# lies between pieces still in use, where glibc never gives memory back by itself.
BURST = """
import sys, threading, time
from collector.freedmemory import FreedMemoryTrimmer, glibc_trim

def anonymous():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("RssAnon"))

kept = []

def burst():
    freed = []
    for index in range(400_000):
        freed.append(bytes(600) + bytes([index % 256]))
        if index % 64 == 0:
            kept.append(bytes(600))
    del freed

thread = threading.Thread(target=burst)
thread.start()
thread.join()
after_burst = anonymous()
trimmer = FreedMemoryTrimmer(float(sys.argv[1]), glibc_trim(), "test")
trimmer.start()
# Waited for by count, not by time: one trim of a quarter gigabyte can take a while on a busy machine.
deadline = time.monotonic() + (30 if trimmer.running else 0.6)
while time.monotonic() < deadline and trimmer.trims < 3:
    time.sleep(0.01)
trimmer.stop()
print(after_burst, anonymous(), trimmer.trims)
"""


def _burst(interval_s: float) -> tuple[int, int, int]:
    """The process's anonymous memory after the burst and once three trims ran (or 0.6 s later without trims),
    and how many trims ran meanwhile."""
    out = subprocess.run(
        [sys.executable, "-c", BURST, str(interval_s)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.split()
    after_burst, later, trims = (int(value) for value in out)
    return after_burst, later, trims


needs_glibc = pytest.mark.skipif(glibc_trim() is None, reason="the C library has no malloc_trim")


@needs_glibc
def test_the_memory_a_burst_freed_goes_back_to_the_system() -> None:
    after_burst, later, trims = _burst(0.05)
    assert after_burst > 200 * MIB  # the burst's memory is resident
    assert trims >= 3
    assert after_burst - later > 150 * MIB  # 400 000 freed pieces ~ 250 MiB; the kept sixty-fourth stays


@needs_glibc
def test_without_trims_the_freed_memory_stays_resident() -> None:
    after_burst, later, trims = _burst(0.0)
    assert trims == 0
    assert after_burst > 200 * MIB
    assert after_burst - later < 20 * MIB


def test_an_interval_of_0_starts_no_thread() -> None:
    trimmer = FreedMemoryTrimmer(0.0, lambda: 1, "test")
    trimmer.start()
    assert not trimmer.running
    trimmer.stop()


def test_without_malloc_trim_the_trimmer_does_nothing_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    trimmer = FreedMemoryTrimmer(0.05, None, "test")  # as glibc_trim() finds it under musl
    with caplog.at_level("INFO", logger="cc_analytics.memory"):
        trimmer.start()
    assert not trimmer.running
    assert [record.getMessage() for record in caplog.records] == ["memory.trim_unavailable"]
