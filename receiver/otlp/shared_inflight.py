"""One in-flight budget for every receiver process of a collector (`run --workers N`, N > 1).

`limits.max_inflight_bytes` bounds the working memory of the requests the collector has taken in and not yet
answered, however many receiver processes take them: a budget of its own in each process would let the
collector hold N times the limit, and a limit divided by N would refuse a gateway's single connection (which
one process serves) at a fraction of it. So each process publishes the bytes it holds in a slot of its own in
a small shared memory segment (one signed 64-bit integer per process, created by the collector and inherited
by each receiver process as a file descriptor), and counts the other slots as in flight when it admits or
grows a request.

A process writes only its own slot, with one aligned 8-byte store, so no lock is taken across processes. Two
processes admitting at the same instant may each miss the other's newest request: the budget can be exceeded
by at most one request per process, as one process alone admits a request larger than the budget when
nothing else is in flight. A receiver process that dies leaves its slot as it was; the collector clears it
before starting the process again, and the new process clears it too.
"""

from __future__ import annotations

import mmap
import os
import tempfile

SLOT_BYTES = 8


class SharedInflight:
    """The slots of `count` receiver processes; `index` is this process's (None in the collector itself)."""

    def __init__(self, fd: int, index: int | None) -> None:
        self.fd = fd
        self.index = index
        self._map = mmap.mmap(fd, os.fstat(fd).st_size)
        self._slots = memoryview(self._map).cast("q")
        self._closed = False
        if index is not None:
            self.clear(index)

    @classmethod
    def create(cls, count: int) -> SharedInflight:
        """The segment of `count` slots, all 0, as a file descriptor a child process can inherit."""
        try:
            fd = os.memfd_create("cc-analytics-inflight")  # Linux: anonymous memory, never on a disk
        except (AttributeError, OSError):
            fd = os.dup(tempfile.TemporaryFile().fileno())  # an unlinked file elsewhere
        os.ftruncate(fd, count * SLOT_BYTES)
        return cls(fd, None)

    def publish(self, inflight_bytes: int) -> None:
        """This process now holds `inflight_bytes`."""
        assert self.index is not None, "the collector holds no slot"
        self._slots[self.index] = inflight_bytes

    def total(self) -> int:
        """What every receiver process holds now (0 once closed: the collector closes it when they stopped)."""
        return 0 if self._closed else sum(self._slots)

    def others(self) -> int:
        """What the receiver processes other than this one hold now."""
        assert self.index is not None, "the collector holds no slot: total() is what they all hold"
        return self.total() - self._slots[self.index]

    def clear(self, index: int) -> None:
        """Receiver process `index` holds nothing (it has just started, or it died)."""
        self._slots[index] = 0

    def close(self) -> None:
        self._closed = True
        self._slots.release()
        self._map.close()
        os.close(self.fd)
