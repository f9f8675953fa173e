"""The durable queue's record format (collector/wal/frame.py, codec.py): what is appended reads back the same,
and damage (a torn tail, a flipped bit) is found by length and checksum and costs the damaged record only."""

from __future__ import annotations

import json

import pytest

from collector.wal import codec
from collector.wal.frame import FORMAT_VERSION, HEADER_BYTES, Damage, Record, frame, read_record, scan
from pdata import Batch, LogEvent, MetricPoint, Sender
from receiver.otlp.ingest import decode
from tests.support.otlp_fuzz import PROTOBUF_FIXTURES


def _batch(index: int = 0) -> Batch:
    resource = {"service.name": "claude-code", "host": "dev-box"}
    points = [
        MetricPoint("claude_code.lines_of_code.count", "", 2, True, 1_000, 2_000 + step, 10.5 + step,
                    {"user.id": "u1", "type": "added"}, resource, "com.anthropic.claude_code")
        for step in range(3)
    ]  # fmt: skip
    events = [LogEvent(3_000, "user_prompt", "", {"prompt_length": "42"}, resource, "events", "INFO")]
    return Batch(
        signal="metrics",
        digest=bytes([index]) * 16,
        sender=Sender("token-a", "apikey_01", "org-1"),
        received_ns=1_700_000_000_000_000_000 + index,
        points=points,
        events=events,
        rejected=2,
        rejected_reason="metric 'x': value over the plausible maximum",
        screened=True,  # as prepare() leaves it: a record reads back as screened, and is not screened again
    )


def test_a_batch_reads_back_equal_with_its_points_sharing_one_resource() -> None:
    batch = _batch(7)
    payload = codec.encode(batch)
    decoded = codec.decode(payload)
    assert decoded == batch
    assert len({id(point.resource) for point in decoded.points} | {id(decoded.events[0].resource)}) == 1
    summary = codec.summary(payload)
    assert (summary.digest, summary.received_ns, summary.items) == (bytes([7]) * 16, batch.received_ns, 4)


def test_non_finite_values_and_non_ascii_text_survive() -> None:
    batch = _batch()
    batch.points[0].value = float("inf")
    batch.points[1].value = float("-inf")
    batch.points[2].value = float("nan")
    batch.points[1].attributes["team"] = "équipe ✓"
    decoded = codec.decode(codec.encode(batch))
    assert decoded.points[0].value == float("inf")
    assert decoded.points[1].value == float("-inf")
    assert decoded.points[2].value != decoded.points[2].value  # NaN
    assert decoded.points[1].attributes["team"] == "équipe ✓"


def _standard_library_record(batch: Batch) -> bytes:
    """A record as format version 1 was first written: the prefix, then the standard library's compact JSON."""
    payload = codec.encode(batch)
    prefix = payload[: codec._PREFIX.size + len(batch.digest)]
    document = json.loads(payload[len(prefix) :])
    return prefix + json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


@pytest.mark.parametrize("index", range(len(PROTOBUF_FIXTURES)))
def test_records_of_real_requests_are_the_bytes_the_standard_library_writes(index: int) -> None:
    """A queue written by an earlier collector drains unchanged, and one written now reads back the same: every
    captured Claude Code request is encoded to the very bytes of the standard library's compact JSON."""
    signal, body, encoding = PROTOBUF_FIXTURES[index]
    batch = decode(signal, body, encoding, Sender("token-a", "apikey_01", "org-1")).batch
    assert batch is not None and batch.size > 0
    batch.screened = True
    payload = codec.encode(batch)
    assert payload == _standard_library_record(batch)
    assert codec.decode(payload) == batch


def test_text_json_escapes_and_large_integers_read_back_from_either_encoder() -> None:
    batch = _batch(3)
    batch.points[0].attributes["path"] = 'a"b\\c\n\t\x01\x7f\u2028 ✓'
    batch.events[0].body = "line one\nline two \U0001f600"
    batch.points[1].start_ns = 2**64 - 1
    batch.points[2].value = 1e300
    payload = codec.encode(batch)
    assert payload == _standard_library_record(batch)
    assert codec.decode(payload) == batch == codec.decode(_standard_library_record(batch))


def test_records_scan_back_in_order_with_their_offsets() -> None:
    payloads = [codec.encode(_batch(index)) for index in range(3)]
    data = b"".join(frame(payload) for payload in payloads)
    found = list(scan(data))
    assert [type(item) for item in found] == [Record, Record, Record]
    assert [item.payload for item in found if isinstance(item, Record)] == payloads
    assert [item.offset for item in found] == [0, HEADER_BYTES + len(payloads[0]),
                                              2 * HEADER_BYTES + len(payloads[0]) + len(payloads[1])]  # fmt: skip
    assert {item.version for item in found if isinstance(item, Record)} == {FORMAT_VERSION}


@pytest.mark.parametrize("cut", [1, HEADER_BYTES - 1, HEADER_BYTES, HEADER_BYTES + 5])
def test_a_torn_last_record_is_damage_at_the_tail_and_the_records_before_it_are_kept(cut: int) -> None:
    first, last = frame(codec.encode(_batch(1))), frame(codec.encode(_batch(2)))
    found = list(scan(first + last[:cut]))
    assert found[0] == Record(0, len(first), FORMAT_VERSION, first[HEADER_BYTES:])
    assert found[1:] == [Damage(len(first), cut, "truncated", at_tail=True)]


# In the magic, the length (more than there is), the checksum, the payload.
@pytest.mark.parametrize(
    ("position", "reason"), [(0, "bad header"), (5, "truncated"), (9, "checksum mismatch"), (40, "checksum mismatch")]
)
def test_a_flipped_bit_costs_that_record_only(position: int, reason: str) -> None:
    records = [frame(codec.encode(_batch(index))) for index in range(3)]
    damaged = bytearray(records[1])
    damaged[position] ^= 0x10
    data = records[0] + bytes(damaged) + records[2]
    found = list(scan(data))
    assert found == [
        Record(0, len(records[0]), FORMAT_VERSION, records[0][HEADER_BYTES:]),
        Damage(len(records[0]), len(records[1]), reason, at_tail=False),
        Record(len(records[0]) + len(records[1]), len(records[2]), FORMAT_VERSION, records[2][HEADER_BYTES:]),
    ]


def test_a_flipped_bit_in_the_last_record_is_damage_at_the_tail() -> None:
    records = [frame(codec.encode(_batch(index))) for index in range(2)]
    damaged = bytearray(records[1])
    damaged[-1] ^= 0x01
    found = list(scan(records[0] + bytes(damaged)))
    assert found[1:] == [Damage(len(records[0]), len(records[1]), "checksum mismatch", at_tail=True)]


def test_a_length_that_claims_more_than_the_segment_holds_is_not_waited_for() -> None:
    record = bytearray(frame(b"x" * 100))
    record[4] = 0xFF  # the length's low byte: 355 bytes claimed, 100 there
    assert read_record(bytes(record), 0) == "truncated"
    assert list(scan(bytes(record) + frame(b"next"))) == [
        Damage(0, len(record), "truncated", at_tail=False),
        Record(len(record), HEADER_BYTES + 4, FORMAT_VERSION, b"next"),
    ]


def test_a_payload_that_is_no_batch_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="not a queued request"):
        codec.decode(b"\x00" * 5)
    payload = codec.encode(_batch())
    with pytest.raises(ValueError):
        codec.decode(payload[:-3])
