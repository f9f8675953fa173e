"""The console asks two independent reads of one answer at the same time (console/together.py): both run at
once, each result comes back in its place, and a failure of either reaches the caller only after both ended."""

from __future__ import annotations

import threading

import pytest

from console.together import both

WAIT_S = 10.0


def test_the_two_reads_run_at_the_same_time() -> None:
    # Each call waits at the barrier for the other: they end only if both are under way at once.
    barrier = threading.Barrier(2, timeout=WAIT_S)

    def read(answer: str) -> str:
        barrier.wait()
        return answer

    assert both(lambda: read("sums"), lambda: read("tools")) == ("sums", "tools")


def test_the_second_read_failing_is_raised_to_the_caller() -> None:
    def fails() -> int:
        raise LookupError("no such query: acceptance_by_tools")

    with pytest.raises(LookupError, match="acceptance_by_tools"):
        both(lambda: 1, fails)


def test_a_failing_first_read_is_raised_once_the_second_has_ended() -> None:
    second_ended = threading.Event()

    def first() -> int:
        raise LookupError("the store went away")

    def second() -> int:
        second_ended.wait(0.2)
        second_ended.set()
        return 2

    with pytest.raises(LookupError, match="went away"):
        both(first, second)
    assert second_ended.is_set()


def test_both_failing_raises_the_first_reads_error() -> None:
    def fails(reason: str) -> int:
        raise LookupError(reason)

    with pytest.raises(LookupError, match="first"):
        both(lambda: fails("first"), lambda: fails("second"))
