"""Taking a writer's queue in groups: an insert (pipeline.py) or an fsync (wal/appender.py) has a fixed cost,
which every request of a group shares."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from typing import Any

# Put on a writer's queue to stop it once everything put before is handled.
STOP = object()


def _weightless(item: Any) -> int:
    return 0


def take_group(
    items: queue.SimpleQueue[Any], linger_s: float, weight: Callable[[Any], int] = _weightless, max_weight: int = 1
) -> tuple[list[Any], bool]:
    """Waits for an item, then takes what else arrives within `linger_s` of it (what is already there, at least)
    until the group weighs `max_weight` (weightless items: no bound). Returns the group, empty when STOP came
    first, and whether STOP was taken: the writer handles the group, then stops."""
    first = items.get()
    if first is STOP:
        return [], True
    group = [first]
    total = weight(first)
    deadline = time.monotonic() + linger_s
    while total < max_weight:
        remaining = deadline - time.monotonic()
        try:
            item = items.get(timeout=remaining) if remaining > 0 else items.get_nowait()
        except queue.Empty:
            break
        if item is STOP:
            return group, True
        group.append(item)
        total += weight(item)
    return group, False
