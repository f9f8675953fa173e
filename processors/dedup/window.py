from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Collection

# The digests among `digests` of requests some process committed to the shared store since `since_ns`, each with
# when it arrived there (collector/app.py binds it to the store's `stored_request_digests` query).
StoredDigests = Callable[[Collection[bytes], int], dict[bytes, int]]


class RequestDeduplicator:
    """Remembers the digests of counted requests for `window_ns`.

    Digests are restored at start-up from the rows already stored (each row carries its request's
    digest), so the window survives a restart without a separate state file.

    With `stored` (replicas sharing one store), a digest this process does not remember is looked up in the
    store before it is counted: a request retried against another replica is recognised there.
    """

    def __init__(self, window_ns: int, stored: StoredDigests | None = None) -> None:
        self._window_ns = window_ns
        self._seen: OrderedDict[bytes, int] = OrderedDict()
        self._stored = stored

    def __len__(self) -> int:
        return len(self._seen)

    def seen(self, digest: bytes, now_ns: int | None = None) -> bool:
        """Whether a request of `digest` was counted; with `now_ns`, within the window before it (a digest stays
        here until the next group's `expire`, which may come long after the window closed on an idle collector)."""
        received_ns = self._seen.get(digest)
        if received_ns is None:
            return False
        return now_ns is None or received_ns >= now_ns - self._window_ns

    def remember(self, digest: bytes, received_ns: int) -> None:
        self._seen[digest] = received_ns
        self._seen.move_to_end(digest)

    def recall(self, digests: Collection[bytes], now_ns: int) -> int:
        """Look the digests this process does not remember up in the shared store (one query), and remember
        those another process committed within the window; returns how many. Without a store: nothing.
        Raises what the lookup raises (the store unreachable): nothing is then counted or acknowledged."""
        if self._stored is None:
            return 0
        unknown = {digest for digest in digests if digest not in self._seen}
        if not unknown:
            return 0
        found = self._stored(unknown, now_ns - self._window_ns)
        # Committed elsewhere, so true whatever becomes of this group: remembered at once.
        recalled = sorted((item for item in found.items() if item[0] in unknown), key=lambda item: item[1])
        for digest, received_ns in recalled:
            self._remember_in_order(digest, received_ns)
        return len(recalled)

    def _remember_in_order(self, digest: bytes, received_ns: int) -> None:
        """Insert keeping the window ordered by arrival, so expire() (which stops at the first digest inside
        the window) stays exact. Another replica's request usually arrived just before the latest ones here:
        only those few newer entries are moved behind it."""
        newer: list[bytes] = []
        for key in reversed(self._seen):
            if self._seen[key] <= received_ns:
                break
            newer.append(key)
        self._seen[digest] = received_ns
        for key in reversed(newer):
            self._seen.move_to_end(key)

    def expire(self, now_ns: int) -> None:
        horizon = now_ns - self._window_ns
        while self._seen:
            digest, received_ns = next(iter(self._seen.items()))
            if received_ns >= horizon:
                break
            self._seen.popitem(last=False)
