"""One in-flight budget for the receiver processes of a collector (`run --workers N`): what one process holds
counts against the others' requests, a request larger than the budget waits until no process holds anything,
and a dead process's slot is cleared before it starts again."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from receiver.otlp.admission import Admission, OverBudget
from receiver.otlp.shared_inflight import SharedInflight

BUDGET = 1000


@pytest.fixture
def segment() -> Iterator[SharedInflight]:
    collector = SharedInflight.create(2)
    yield collector
    collector.close()


def _process(segment: SharedInflight, index: int) -> Admission:
    """Receiver process `index`'s budget, as it starts."""
    return Admission(BUDGET, shared=SharedInflight(segment.fd, index))


def _refusal(admission: Admission, size: int) -> str:
    with pytest.raises(OverBudget) as refused:
        admission.admit(size)
    return str(refused.value)


def test_what_one_process_holds_is_in_flight_for_the_other(segment: SharedInflight) -> None:
    first, second = _process(segment, 0), _process(segment, 1)
    held = first.admit(600)
    assert _refusal(second, 500) == (
        "collector is busy: 600 bytes of requests in flight, limit 1000 (this request: 500 bytes); retry after 1 s"
    )
    taken = second.admit(400)
    assert second.refused == 1 and first.refused == 0
    grown = first.admit(0)
    with pytest.raises(OverBudget):
        grown.resize(1)  # growing counts what the other holds too
    grown.release()
    held.release()
    taken.resize(1000)  # the first holds nothing now
    taken.release()
    assert first.inflight_bytes == second.inflight_bytes == 0 and segment.total() == 0


def test_a_request_larger_than_the_budget_waits_until_no_process_holds_anything(segment: SharedInflight) -> None:
    first, second = _process(segment, 0), _process(segment, 1)
    small = first.admit(1)
    _refusal(second, 2 * BUDGET)
    small.release()
    large = second.admit(2 * BUDGET)
    assert _refusal(first, 1).startswith("collector is busy: 2000 bytes of requests in flight")
    large.release()
    first.admit(1).release()


def test_a_dead_process_slot_is_cleared_by_the_collector_and_by_its_successor(segment: SharedInflight) -> None:
    first = _process(segment, 0)
    _process(segment, 1).admit(900)  # never released: the process died holding it
    _refusal(first, 200)
    segment.clear(1)  # the collector, on the process's exit
    first.admit(200).release()
    _process(segment, 1).admit(900)  # it died again
    _refusal(first, 200)
    _process(segment, 1)  # its successor, starting
    first.admit(200).release()


def test_another_process_publishes_into_the_inherited_segment(segment: SharedInflight) -> None:
    first = _process(segment, 0)
    # A receiver process: the segment's file descriptor inherited, as the collector starts it.
    child = (
        "import sys; from receiver.otlp.shared_inflight import SharedInflight; "
        "s = SharedInflight(int(sys.argv[1]), 1); s.publish(750); print(s.others())"
    )
    held = first.admit(30)
    out = subprocess.run(
        [sys.executable, "-c", child, str(segment.fd)], pass_fds=(segment.fd,), capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.strip() == "30", out.stderr
    assert _refusal(first, 221).startswith("collector is busy: 780 bytes of requests in flight")
    first.admit(220).release()
    held.release()
    assert segment.total() == 750


def test_a_closed_segment_holds_nothing() -> None:
    # The collector closes it once its receiver processes stopped; its self-metrics may still be read after.
    segment = SharedInflight.create(2)
    _process(segment, 1).admit(300)
    assert segment.total() == 300
    segment.close()
    assert segment.total() == 0
