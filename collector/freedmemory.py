"""Handing the heap memory a process freed back to the system, in every collector process (the writer and each
receiver process), every `memory.trim_interval_ms`.

Python hands what it frees (an insert's bodies, a drain group's records, a request's decoded objects) back to
the C allocator, glibc's malloc, which keeps it for reuse: in the main heap and in an arena per thread that
allocated (up to 8 per core). It returns pages to the system only from the top of the main heap, so the pages a
burst freed in the middle of an arena stay resident, and the next burst's allocations, landing in other free
pieces, add to them: the resident memory grows by the allocator's fragmentation, not by what is in use.
`malloc_trim(0)` gives back every whole free page of every arena. It walks each arena's free lists under that
arena's lock (every 50 ms, ~1 % of a core in a busy writer and ~2 % in a busy receiver, bench/README.md "Freed
memory handed back"), so it runs on a thread of its own, as often as configured, never on a request's path.

Another C library (musl) has no malloc_trim: the trimmer then does nothing and says so once.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Callable

log = logging.getLogger("cc_analytics.memory")


def glibc_trim() -> Callable[[], int] | None:
    """glibc's malloc_trim(0), returning 1 when it gave memory back; None where the C library has none."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: int(trim(0))


class FreedMemoryTrimmer:
    """A daemon thread calling `trim` (glibc_trim(); None: the C library has none) every `interval_s` until
    stopped; an interval of 0 turns it off."""

    def __init__(self, interval_s: float, trim: Callable[[], int] | None, process: str) -> None:
        self._interval_s = interval_s
        self._trim = trim
        self._process = process
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-trimmer", daemon=True)
        self.trims = 0

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        if self._interval_s <= 0:
            return
        if self._trim is None:
            log.info(
                "memory.trim_unavailable",
                extra={"fields": {"process": self._process, "effect": "the C library has no malloc_trim"}},
            )
            return
        log.info(
            "memory.trim_started",
            extra={"fields": {"process": self._process, "interval_ms": round(self._interval_s * 1000)}},
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        assert self._trim is not None  # started only with one
        while not self._stopped.wait(self._interval_s):
            self._trim()
            self.trims += 1
