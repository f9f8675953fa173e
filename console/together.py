"""Two reads of one answer asked at the same time. Each named query holds one of the store's clients (a handle of
the embedded engine, or a connection to the server) while the engine plans and runs it, and the engine does so
without holding the interpreter: two independent reads take about the time of the longer one, not their sum.
Most of a small read is the engine's set-up before any row (~2.5 ms on a slow core), so a view of several
reads gains most from asking them side by side."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

First = TypeVar("First")
Second = TypeVar("Second")


def both(first: Callable[[], First], second: Callable[[], Second]) -> tuple[First, Second]:
    """`first()` on this thread and `second()` on a thread of its own; both results, or the first exception
    raised (`first`'s when both fail), once both have ended."""
    results: list[Second] = []
    errors: list[BaseException] = []

    def run_second() -> None:
        try:
            results.append(second())
        except BaseException as exc:  # handed to the caller's thread, raised there
            errors.append(exc)

    thread = threading.Thread(target=run_second, name="console-read", daemon=True)
    thread.start()
    try:
        first_result = first()
    finally:
        thread.join()
    if errors:
        raise errors[0]
    return first_result, results[0]
