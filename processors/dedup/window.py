from __future__ import annotations

from collections import OrderedDict


class RequestDeduplicator:
    """Remembers the digests of counted requests for `window_ns`.

    Digests are restored at start-up from the rows already stored (each row carries its request's
    digest), so the window survives a restart without a separate state file.
    """

    def __init__(self, window_ns: int) -> None:
        self._window_ns = window_ns
        self._seen: OrderedDict[bytes, int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def seen(self, digest: bytes) -> bool:
        return digest in self._seen

    def remember(self, digest: bytes, received_ns: int) -> None:
        self._seen[digest] = received_ns
        self._seen.move_to_end(digest)

    def expire(self, now_ns: int) -> None:
        horizon = now_ns - self._window_ns
        while self._seen:
            digest, received_ns = next(iter(self._seen.items()))
            if received_ns >= horizon:
                break
            self._seen.popitem(last=False)
