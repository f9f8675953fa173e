"""The record frame of the queue's segment files, and the scan that finds records and damage in a segment.

A record is a 12-byte header and a payload:

    magic b"\\xc7\\x51" | format version (1 byte) | flags (1 byte, 0) | payload length (u32 LE) | CRC-32 (u32 LE)

The CRC-32 (zlib's) covers the header's first 8 bytes and the payload, so a flipped bit in the length is caught
as well as one in the payload. The magic lets the scan find the next record after damage: a torn write at the
tail, or a bit flip anywhere, costs the damaged record only, never what comes before or after it.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

MAGIC = b"\xc7\x51"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<2sBBII")
HEADER_BYTES = _HEADER.size
# A record is one accepted request: limits.max_request_bytes (16 MiB by default) inflated, decoded and
# privacy-filtered stays well under this. A header claiming more is damage, not a record to wait for.
MAX_PAYLOAD_BYTES = 256 * 1024 * 1024


def frame(payload: bytes, version: int = FORMAT_VERSION) -> bytes:
    """The record's bytes as they are appended."""
    head = _HEADER.pack(MAGIC, version, 0, len(payload), 0)[:8]
    return head + struct.pack("<I", zlib.crc32(payload, zlib.crc32(head))) + payload


@dataclass(frozen=True, slots=True)
class Record:
    offset: int  # of the header in the segment
    size: int  # header + payload
    version: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Damage:
    """Bytes that are no record: a torn write or a flipped bit. `at_tail`: nothing valid follows them."""

    offset: int
    size: int
    reason: str
    at_tail: bool


def read_record(data: bytes | memoryview, offset: int) -> Record | str:
    """The record at `offset`, or why there is none there ("truncated", "bad header", "checksum mismatch")."""
    if len(data) - offset < HEADER_BYTES:
        return "truncated"
    magic, version, flags, length, crc = _HEADER.unpack_from(data, offset)
    if magic != MAGIC or flags != 0 or length > MAX_PAYLOAD_BYTES:
        return "bad header"
    end = offset + HEADER_BYTES + length
    if end > len(data):
        return "truncated"
    payload = bytes(data[offset + HEADER_BYTES : end])
    if zlib.crc32(payload, zlib.crc32(data[offset : offset + 8])) != crc:
        return "checksum mismatch"
    return Record(offset, HEADER_BYTES + length, version, payload)


def scan(data: bytes, start: int = 0) -> Iterator[Record | Damage]:
    """Every record of a segment's bytes from `start`, in order, and every stretch of damage between them."""
    offset = start
    while offset < len(data):
        found = read_record(data, offset)
        if isinstance(found, Record):
            yield found
            offset += found.size
            continue
        resumed = _next_record(data, offset + 1)
        if resumed is None:
            yield Damage(offset, len(data) - offset, found, at_tail=True)
            return
        yield Damage(offset, resumed - offset, found, at_tail=False)
        offset = resumed


def _next_record(data: bytes, offset: int) -> int | None:
    """Where the next whole, valid record starts at or after `offset` (its magic, then a matching checksum)."""
    while True:
        candidate = data.find(MAGIC, offset)
        if candidate < 0:
            return None
        if isinstance(read_record(data, candidate), Record):
            return candidate
        offset = candidate + 1
