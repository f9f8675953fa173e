"""One request's repeated values, each held once while it is decoded.

The points and records of one request repeat the same identity attributes (user, session, organization), the
same attribute names and the same times. Decoded one by one, every repeat is a new string, int and dict:
about 800 bytes of Python objects for a point that took 100 bytes on the wire. Both decoders hand their
values through a `RequestValues`, so equal texts and times are one object and points with equal attributes
share one dict, as the points of a resource already share its dict. Nothing downstream changes a point's
attribute dict in place (the privacy filter, the durable queue and the insert's rows make new ones).

What is held is bounded (`MAX_TEXTS`, `MAX_ATTRIBUTE_SETS`): a request of all-different values decodes as
before, plus at most those entries. Only bodies of `SHARED_FROM_BYTES` or more are decoded this way: below it
the saving is a few kilobytes and the look-ups would cost a third more decoding time (Claude Code's own
exports are a few kilobytes).
"""

from __future__ import annotations

from collections.abc import Iterable

MAX_TEXTS = 65_536
MAX_ATTRIBUTE_SETS = 4_096
SHARED_FROM_BYTES = 64 * 1024


def values_for(body: bytes) -> RequestValues | None:
    """A RequestValues for a body large enough to be worth it, else None (values decoded one by one)."""
    return RequestValues() if len(body) >= SHARED_FROM_BYTES else None


class RequestValues:
    """The values seen so far in one request. Not thread-safe: one per decode."""

    __slots__ = ("_texts", "_numbers", "_attribute_sets")

    def __init__(self) -> None:
        self._texts: dict[str, str] = {}
        self._numbers: dict[int, int] = {}
        self._attribute_sets: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}

    def text(self, value: str) -> str:
        held = self._texts.get(value)
        if held is not None:
            return held
        if len(self._texts) < MAX_TEXTS:
            self._texts[value] = value
        return value

    def number(self, value: int) -> int:
        held = self._numbers.get(value)
        if held is not None:
            return held
        if len(self._numbers) < MAX_TEXTS:
            self._numbers[value] = value
        return value

    def attributes(self, pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
        """The dict of `pairs` (key, value) in order, the last of a repeated key winning, as dict() makes it;
        the same dict object for equal pairs."""
        key = tuple(pairs)
        held = self._attribute_sets.get(key)
        if held is not None:
            return held
        text = self.text
        attributes = {text(name): text(value) for name, value in key}
        if len(self._attribute_sets) < MAX_ATTRIBUTE_SETS:
            # Keyed by the held texts, so that the key keeps no second copy of them.
            self._attribute_sets[tuple((text(name), text(value)) for name, value in key)] = attributes
        return attributes
