"""While a backlog lasts and no sender is being answered, the drainer reads and hands over the next group while
the one before is in the store (collector/wal/drainer.py), and a group that fails meanwhile is retried after it
without anything counted twice or lost; while senders are answered, it settles each group first, unless more
than a group waits behind the one in the store. The queue's files end with nothing pending.

The store is the test double of test_pipeline_overlap.py, which holds each insert until the test ends it (a
store that fails one chosen insert and takes the next: a fault the real engine cannot be made to show at a
chosen moment). The queue's files, the drainer, the pipeline and the processor chain are real.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

import collector.wal.drainer
import collector.wal.log
from collector.pipeline import Pipeline, PipelineConfig
from collector.wal import codec
from collector.wal.drainer import Drainer
from collector.wal.frame import frame
from collector.wal.log import WriteAheadLog
from processors.temporality import CumulativeToDelta
from tests.unit.test_pipeline_overlap import WAIT_S, HeldInsert, HeldStore, WatchedChain, request, total

# Far longer than the test: a drain that waited for it (as for a queue that had caught up) would never end.
PACE_S = 600.0
GROUP_LINGER_S = 5.0
SESSIONS = {"a": 1.0, "b": 2.0, "c": 4.0, "d": 8.0}
# Three groups of two: while the first is in the store, two more wait behind it.
SIX_SESSIONS = {**SESSIONS, "e": 16.0, "f": 32.0}


class OutageStore(HeldStore):
    """HeldStore whose reachability the test sets: a failed insert while unreachable fails its whole group."""

    def __init__(self) -> None:
        super().__init__()
        self.reachable = True

    def ping(self) -> bool:
        return self.reachable


class Drain:
    """Queued requests, one point each of its own session (by default four: lines 1, 2, 4 and 8), drained two at
    a time."""

    def __init__(self, directory: Path, senders_quiet_s: float = 0.0, sessions: dict[str, float] = SESSIONS) -> None:
        self.directory = directory
        self.sessions = sessions
        self.wal = WriteAheadLog(directory, durable=False)
        self.wal.open()
        for index, (session, lines) in enumerate(sessions.items()):
            batch = replace(request(f"r{index}".encode(), total(lines, 1_000 + index, session=session)), screened=True)
            payload = codec.encode(batch)
            self.wal.append(frame(payload), codec.summary(payload))
        self.store = OutageStore()
        self.chain = WatchedChain(CumulativeToDelta())
        # The writer waits for the second record of a group however late the drainer's thread hands it over
        # (a busy machine may switch threads between the two): each group fills, so the linger is never waited out.
        self.pipeline = Pipeline(
            self.chain,
            self.store,
            PipelineConfig(max_group_items=2, linger_s=GROUP_LINGER_S, max_linger_s=GROUP_LINGER_S),
        )
        self.pipeline.start()
        self.drainer = Drainer(
            self.wal, self.pipeline, max_group_items=2, min_interval_s=PACE_S, senders_quiet_s=senders_quiet_s
        )
        self.drainer.start()

    def next_insert(self) -> tuple[HeldInsert, list[str]]:
        """The next insert the store holds, and the sessions of its points."""
        insert = self.store.next_insert()
        return insert, sorted(fact.point.attributes["session.id"] for fact in insert.points)

    def assert_each_request_counted_once(self) -> None:
        deadline = time.monotonic() + WAIT_S
        while self.wal.pending_records():
            assert time.monotonic() < deadline, f"{self.wal.pending_records()} records still pending"
            time.sleep(0.01)
        assert sorted(fact.point.attributes["session.id"] for fact in self.store.committed) == sorted(self.sessions)
        assert sum(fact.delta for fact in self.store.committed) == sum(self.sessions.values())

    def assert_nothing_pending_after_restart(self) -> None:
        self.close()
        wal = WriteAheadLog(self.directory, durable=False)
        try:
            assert wal.open() == 0
        finally:
            wal.close()

    def close(self) -> None:
        self.drainer.stop(timeout_s=5)
        self.pipeline.close(timeout_s=10)
        self.wal.close()


@pytest.fixture
def drain(tmp_path: Path) -> Iterator[Drain]:
    drain = Drain(tmp_path)
    yield drain
    drain.close()


def _c_d_processed_while_a_b_is_in_the_store(drain: Drain) -> HeldInsert:
    """Waits until c, d reach the chain while the insert of a, b is held, ends that insert and returns the next
    one, c, d's, held."""
    first, sessions = drain.next_insert()
    assert sessions == ["a", "b"]
    drain.chain.wait_on_top(1)
    first.end("ok")
    second, sessions = drain.next_insert()
    assert sessions == ["c", "d"]
    return second


def test_with_a_backlog_the_next_group_is_handed_over_while_the_one_before_is_in_the_store(drain: Drain) -> None:
    # The second group reaches the chain while the first insert is held: read, decoded and processed on top of
    # it, without waiting the drain interval a queue that has caught up waits.
    _c_d_processed_while_a_b_is_in_the_store(drain).end("ok")

    drain.assert_each_request_counted_once()
    drain.assert_nothing_pending_after_restart()


def test_a_group_that_fails_while_the_next_is_handed_over_is_retried_and_each_request_counts_once(
    drain: Drain,
) -> None:
    first, _ = drain.next_insert()
    drain.chain.wait_on_top(1)
    drain.store.reachable = False
    first.end("fail")  # a, b: the store went away during their insert
    # Before anything else, the same insert again (it may have been kept in part), once the store is back.
    again, sessions = drain.next_insert()
    assert sessions == ["a", "b"]
    drain.store.reachable = True
    again.end("ok")
    # c, d: processed again from what was committed, and kept.
    second, sessions = drain.next_insert()
    assert sessions == ["c", "d"]
    second.end("ok")

    # The drainer's retry of a, b (after its back-off) finds them committed: duplicates, nothing inserted.
    drain.assert_each_request_counted_once()
    assert drain.drainer.drained_records == 4
    drain.assert_nothing_pending_after_restart()


def test_while_senders_are_answered_each_group_is_settled_before_the_next_is_handed_over(tmp_path: Path) -> None:
    drain = Drain(tmp_path, senders_quiet_s=PACE_S)  # the appends just made: senders are being answered
    try:
        first, _ = drain.next_insert()
        time.sleep(0.3)
        assert drain.chain.on_top == 0  # c, d not handed over while a, b are in the store
        first.end("ok")
        second, sessions = drain.next_insert()
        assert sessions == ["c", "d"]
        second.end("ok")
        drain.assert_each_request_counted_once()
    finally:
        drain.close()


def test_while_senders_are_answered_a_writer_more_than_a_group_behind_hands_the_next_over_at_once(
    tmp_path: Path,
) -> None:
    drain = Drain(tmp_path, senders_quiet_s=PACE_S, sessions=SIX_SESSIONS)  # senders are being answered
    try:
        # c, d and e, f wait behind a, b: c, d are processed on top of the insert still held.
        second = _c_d_processed_while_a_b_is_in_the_store(drain)
        # Now only e, f wait behind c, d: the writer keeps up again, so c, d are settled before e, f go.
        time.sleep(0.3)
        assert drain.chain.on_top == 1
        second.end("ok")
        third, sessions = drain.next_insert()
        assert sessions == ["e", "f"]
        third.end("ok")
        drain.assert_each_request_counted_once()  # 63 lines, each request once
        drain.assert_nothing_pending_after_restart()
    finally:
        drain.close()


def test_on_a_machine_booted_a_second_ago_the_first_drain_does_not_wait_for_the_drain_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The monotonic clock counts from boot: here it reads 1 s when the queue opens, far less than the interval.
    booted_at = time.monotonic() - 1.0
    clock = SimpleNamespace(monotonic=lambda: time.monotonic() - booted_at, sleep=time.sleep)
    monkeypatch.setattr(collector.wal.drainer, "time", clock)
    monkeypatch.setattr(collector.wal.log, "time", clock)
    drain = Drain(tmp_path)
    try:
        first, sessions = drain.next_insert()
        assert sessions == ["a", "b"]
        first.end("ok")
        second, sessions = drain.next_insert()
        assert sessions == ["c", "d"]
        second.end("ok")
        drain.assert_each_request_counted_once()
    finally:
        drain.close()
