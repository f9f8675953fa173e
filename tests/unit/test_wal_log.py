"""The durable queue's files (collector/wal/log.py, recovery.py, checkpoint.py): what is appended is pending
until drained, survives a restart from the checkpoint on, and damage found at start-up is skipped, logged once
and cut away at the tail, so appends continue cleanly; a full disk is given back as its records are drained."""

from __future__ import annotations

import errno
import logging
from pathlib import Path

import pytest

from collector.wal import codec
from collector.wal.checkpoint import CHECKPOINT_FILE, Position, read_checkpoint, write_checkpoint
from collector.wal.frame import frame
from collector.wal.log import WriteAheadLog
from collector.wal.prepare import SERIES_ATTRIBUTE, prepare
from collector.wal.recovery import UnknownFormat
from collector.wal.segments import list_segments, segment_path
from pdata import Batch, LogEvent, MetricPoint, Sender
from processors.policy import TimeWindow, ValuePolicy
from processors.privacy import PrivacyFilter
from tests.support.small_disk import small_disk

NOW_NS = 1_700_000_000_000_000_000


def _batch(index: int, signal: str = "metrics") -> Batch:
    point = MetricPoint("claude_code.cost.usage", "USD", 1, True, 0, NOW_NS, 0.5, {"user.id": f"u{index}"}, {})
    return Batch(signal, index.to_bytes(16, "big"), Sender(), NOW_NS + index, points=[point], screened=True)  # type: ignore[arg-type]


def _append(wal: WriteAheadLog, batch: Batch) -> None:
    payload = codec.encode(batch)
    wal.append(frame(payload), codec.summary(payload))


def _opened(directory: Path, segment_bytes: int = 64 * 1024 * 1024) -> WriteAheadLog:
    wal = WriteAheadLog(directory, durable=True, segment_bytes=segment_bytes)
    wal.open()
    return wal


def _pending_digests(wal: WriteAheadLog) -> list[int]:
    return [int.from_bytes(ref.digest, "big") for ref in wal.head(10_000, timeout_s=0)]


def test_appended_records_are_pending_until_drained_and_a_restart_replays_only_the_undrained(tmp_path: Path) -> None:
    wal = _opened(tmp_path)
    for index in range(5):
        _append(wal, _batch(index))
    assert _pending_digests(wal) == [0, 1, 2, 3, 4]
    assert wal.is_pending((3).to_bytes(16, "big"))
    wal.drained(2)
    assert _pending_digests(wal) == [2, 3, 4]
    assert not wal.is_pending((1).to_bytes(16, "big"))
    first_pending = wal.head(1, timeout_s=0)[0]
    assert read_checkpoint(tmp_path) == Position(first_pending.segment, first_pending.offset)
    wal.close()  # or a crash: every append went to the OS at once

    restarted = _opened(tmp_path)
    refs = restarted.head(10_000, timeout_s=0)
    assert [int.from_bytes(ref.digest, "big") for ref in refs] == [2, 3, 4]
    assert all(ref.replayed for ref in refs)
    assert restarted.pending_bytes == sum(ref.size for ref in refs)
    assert restarted.oldest_received_ns() == NOW_NS + 2
    record = restarted.read(refs[0])
    assert not isinstance(record, str)
    assert codec.decode(record.payload) == _batch(2)
    restarted.close()


def test_drained_segments_are_deleted_and_appends_after_a_restart_go_to_a_new_segment(tmp_path: Path) -> None:
    record_size = len(frame(codec.encode(_batch(0))))
    wal = _opened(tmp_path, segment_bytes=2 * record_size)  # two records per segment
    for index in range(5):
        _append(wal, _batch(index))
    assert list_segments(tmp_path) == [1, 2, 3]
    wal.drained(3)  # the first segment's two and one of the second's
    assert list_segments(tmp_path) == [2, 3]
    wal.close()
    restarted = _opened(tmp_path, segment_bytes=2 * record_size)
    _append(restarted, _batch(5))
    assert list_segments(tmp_path) == [2, 3, 4]
    restarted.drained(3)
    assert list_segments(tmp_path) == [4]  # the one being appended to stays
    assert _pending_digests(restarted) == []
    restarted.close()


def _damage_last_record(directory: Path, how: str) -> tuple[int, int, int]:
    """(segment, offset, bytes left of it) of the last record of the newest segment, after truncating it to
    half or flipping a bit in it."""
    segment = list_segments(directory)[-1]
    path = segment_path(directory, segment)
    data = bytearray(path.read_bytes())
    last_size = len(frame(codec.encode(_batch(0))))
    offset = len(data) - last_size
    if how == "truncate":
        path.write_bytes(bytes(data[: offset + last_size // 2]))
        return segment, offset, last_size // 2
    data[offset + last_size // 2] ^= 0x04
    path.write_bytes(bytes(data))
    return segment, offset, last_size


@pytest.mark.parametrize("how", ["truncate", "bit_flip"])
def test_a_damaged_tail_record_is_logged_skipped_and_cut_away(
    tmp_path: Path, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    wal = _opened(tmp_path)
    for index in range(4):
        _append(wal, _batch(index))
    wal.close()
    segment, offset, damaged_bytes = _damage_last_record(tmp_path, how)

    with caplog.at_level(logging.ERROR, logger="cc_analytics.queue"):
        restarted = _opened(tmp_path)
    damage = [record for record in caplog.records if record.getMessage() == "queue.corrupt_record"]
    assert len(damage) == 1
    fields = damage[0].fields  # type: ignore[attr-defined]
    assert (fields["segment"], fields["offset"], fields["bytes_skipped"]) == (segment, offset, damaged_bytes)
    assert fields["reason"] == ("truncated" if how == "truncate" else "checksum mismatch")
    assert _pending_digests(restarted) == [0, 1, 2]
    assert restarted.corrupt_records == 1
    assert segment_path(tmp_path, segment).stat().st_size == offset  # the torn tail is gone
    _append(restarted, _batch(9))
    restarted.close()

    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="cc_analytics.queue"):
        again = _opened(tmp_path)
    assert [record.getMessage() for record in caplog.records] == []  # logged once, not at every start
    assert _pending_digests(again) == [0, 1, 2, 9]
    again.close()


def test_a_record_of_an_unknown_format_version_stops_the_start_and_is_left_in_place(tmp_path: Path) -> None:
    wal = _opened(tmp_path)
    _append(wal, _batch(0))
    wal.append(frame(codec.encode(_batch(1)), version=2), codec.summary(codec.encode(_batch(1))))
    wal.close()
    before = segment_path(tmp_path, 1).read_bytes()
    with pytest.raises(UnknownFormat, match="queue format version 2 .*this collector reads version 1"):
        _opened(tmp_path)
    assert segment_path(tmp_path, 1).read_bytes() == before


def test_the_checkpoint_is_replaced_whole_and_an_unreadable_one_replays_everything(tmp_path: Path) -> None:
    write_checkpoint(tmp_path, Position(3, 120))
    write_checkpoint(tmp_path, Position(4, 0))
    assert read_checkpoint(tmp_path) == Position(4, 0)
    assert sorted(path.name for path in tmp_path.iterdir()) == [CHECKPOINT_FILE]
    (tmp_path / CHECKPOINT_FILE).write_bytes(b'{"version": 1, "segm')
    assert read_checkpoint(tmp_path) is None


def test_what_reaches_disk_is_screened_and_privacy_filtered_and_series_stay_apart() -> None:
    resource = {"service.name": "claude-code"}
    secret = "please refactor the billing module"
    points = [
        MetricPoint("claude_code.lines_of_code.count", "", 2, True, 0, NOW_NS, 5.0,
                    {"user.id": "u1", "type": "added", "custom.label": label, "prompt": secret}, resource)
        for label in ("alpha", "beta")
    ] + [MetricPoint("claude_code.lines_of_code.count", "", 2, True, 0, NOW_NS, -1.0, {"user.id": "u1"}, resource)]  # fmt: skip
    event = LogEvent(NOW_NS, "user_prompt", "free text body", {"prompt": secret, "prompt_length": "34"}, resource)
    batch = Batch("metrics", b"d" * 16, Sender(), NOW_NS, points=points, events=[event])
    stored = prepare(batch, ValuePolicy(TimeWindow()), PrivacyFilter(store_content=False))

    assert (batch.rejected, len(batch.points)) == (1, 2)  # the negative counter is refused in the answer
    assert (stored.rejected, stored.rejected_reason) == (batch.rejected, batch.rejected_reason)
    on_disk = codec.encode(stored)
    assert secret.encode() not in on_disk and b"free text body" not in on_disk and b"alpha" not in on_disk
    assert stored.points[0].attributes["prompt_length"] == str(len(secret))
    assert stored.events[0].attributes == {"prompt_length": "34", "body_length": "14"}
    # Two series that differed only in a dropped attribute are still two series.
    assert stored.points[0].attributes[SERIES_ATTRIBUTE] != stored.points[1].attributes[SERIES_ATTRIBUTE]
    kept = prepare(batch, ValuePolicy(TimeWindow()), PrivacyFilter(store_content=True))
    assert kept.points == batch.points and kept.events == batch.events


def test_senders_are_refused_while_the_oldest_pending_record_is_older_than_max_age(tmp_path: Path) -> None:
    from collector.wal.appender import Appender
    from collector.wal.config import QueueConfig

    wal = _opened(tmp_path)
    clock = [NOW_NS]
    appender = Appender(
        wal, QueueConfig(mode="wal", max_age_seconds=60), lambda b: b, lambda d, t: False, lambda: clock[0]
    )
    assert appender.readiness() == (True, "")
    _append(wal, _batch(0))  # arrived at NOW_NS
    clock[0] = NOW_NS + 60 * 1_000_000_000
    assert appender.refusal(0) is None
    clock[0] += 1_000_000_000
    assert (
        appender.refusal(0) == "the durable queue's oldest record has waited 61 s for the store (queue.max_age_seconds)"
    )
    assert appender.readiness()[0] is False
    wal.drained(1)
    assert appender.refusal(0) is None
    wal.close()


def test_on_a_full_disk_a_failed_append_is_cut_away_and_drained_records_give_their_room_back(tmp_path: Path) -> None:
    """A real full disk (a 64 KiB file system): the append that finds no room raises ENOSPC and leaves the
    segment ending with its last whole record (no torn bytes, no new file); the queue says why the next one may
    not fit. Once everything is drained, although the checkpoint cannot be written there, the next append leaves
    the drained segment, whose room (held by the reader's descriptor too) is freed, and goes through."""
    with small_disk(tmp_path / "wal", 64 * 1024) as directory:
        wal = _opened(directory)
        appended = 0
        with pytest.raises(OSError) as full:
            while True:
                _append(wal, _batch(appended))
                appended += 1
        assert full.value.errno == errno.ENOSPC and appended > 10
        assert list_segments(directory) == [1]
        assert segment_path(directory, 1).stat().st_size == sum(ref.size for ref in wal.head(10_000, timeout_s=0))
        assert "the durable queue's disk is full" in wal.space_problem()
        with pytest.raises(OSError):
            _append(wal, _batch(appended))  # pending records hold the room: nothing to give back
        assert list_segments(directory) == [1]

        for ref in wal.head(10_000, timeout_s=0):
            assert not isinstance(wal.read(ref), str)  # the drainer's reads: the reader holds segment 1 open
        with pytest.raises(OSError):
            wal.drained(appended)  # everything is drained; the checkpoint finds no room
        assert wal.space_problem() == ""  # the next append can leave the drained segment
        _append(wal, _batch(appended))
        assert list_segments(directory) == [2]
        assert _pending_digests(wal) == [appended]
        wal.drained(1)
        assert read_checkpoint(directory) is not None
        wal.close()
        assert _pending_digests(_opened(directory)) == []
