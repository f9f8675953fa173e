"""The queued requests the store refused for good, remembered so that their senders' retries are not queued
again.

In queue.mode=wal a request is acknowledged once it is on disk; the store's refusal comes later, at the drain,
and the pipeline sets the request aside in the dead-letter file. A sender that did not hear the acknowledgement
sends the same bytes again. While the first record is pending, the appender recognises the digest in the queue;
once it is drained, it recognises it here. So the retry is answered "duplicate" however late it comes, instead of
being queued, drained and refused a second time. Those the dead-letter file holds are remembered from the start,
so a retry after a restart is recognised as well.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

# As many as the dead-letter file remembers (collector/deadletter.py): a retry comes within seconds.
REMEMBERED_REFUSALS = 4096


class RefusedRequests:
    """The digests of the `capacity` latest refused requests. The drainer adds each one before it checkpoints
    past its record, so a retry finds the digest either pending in the queue or here."""

    def __init__(self, earlier: Iterable[bytes] = (), capacity: int = REMEMBERED_REFUSALS) -> None:
        """`earlier`: digests refused before this run, oldest first (those the dead-letter file holds)."""
        self._capacity = capacity
        self._digests: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()
        for digest in earlier:
            self.add(digest)

    def add(self, digest: bytes) -> None:
        with self._lock:
            self._digests[digest] = None
            self._digests.move_to_end(digest)
            if len(self._digests) > self._capacity:
                self._digests.popitem(last=False)

    def __contains__(self, digest: object) -> bool:
        with self._lock:
            return digest in self._digests

    def __len__(self) -> int:
        with self._lock:
            return len(self._digests)
