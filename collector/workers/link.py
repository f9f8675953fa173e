"""The link between receiver worker processes and the collector process: one Unix socket in the data
directory, one connection per worker.

A worker decodes, authenticates, screens and privacy-filters each request itself, encodes it as a durable queue
record (collector/wal/codec.py) and sends it; the collector appends it to its durable queue with the same dedup
and bounds as its own receivers' requests, and answers. The worker answers its sender only then, so an
acknowledgement always means "in the durable queue". The worker also reports each request's outcome, which the
collector's self-metrics count.

Frames: u32 little-endian length of what follows, a kind byte, then:

- CONSUME (worker → collector): u64 request id, record payload;
- RESULT (collector → worker): u64 request id, outcome byte, u16 retry-after seconds, u32 stale points, message;
- OBSERVE (worker → collector): JSON [protocol, signal, status, reason, accepted, rejected, seconds];
- HELLO (worker → collector): JSON {"index", "pid"}, once its listeners are bound.
"""

from __future__ import annotations

import asyncio
import json
import struct
from dataclasses import dataclass

from pdata.consumer import ConsumeResult, Overloaded, Unavailable

CONSUME, RESULT, OBSERVE, HELLO = 1, 2, 3, 4
OK, DUPLICATE, OVERLOADED, UNAVAILABLE = 0, 1, 2, 3

_HEADER = struct.Struct("<IB")
_ID = struct.Struct("<Q")
_RESULT = struct.Struct("<QBHI")
# A record is at most a request's decoded items; limits.max_request_bytes bounds the request, not its JSON.
MAX_FRAME_BYTES = 1024 * 1024 * 1024

Outcome = ConsumeResult | Overloaded | Unavailable


def frame(kind: int, body: bytes) -> bytes:
    return _HEADER.pack(len(body) + 1, kind) + body


def consume_frame(request_id: int, payload: bytes) -> bytes:
    return frame(CONSUME, _ID.pack(request_id) + payload)


def json_frame(kind: int, document: object) -> bytes:
    return frame(kind, json.dumps(document, separators=(",", ":")).encode())


def result_frame(request_id: int, outcome: Outcome) -> bytes:
    if isinstance(outcome, ConsumeResult):
        kind = DUPLICATE if outcome.duplicate else OK
        head = _RESULT.pack(request_id, kind, 0, outcome.stale_points)
        return frame(RESULT, head)
    kind = OVERLOADED if isinstance(outcome, Overloaded) else UNAVAILABLE
    retry_after = min(max(0, outcome.retry_after_s), 0xFFFF)
    return frame(RESULT, _RESULT.pack(request_id, kind, retry_after, 0) + str(outcome).encode())


@dataclass(frozen=True, slots=True)
class Result:
    request_id: int
    outcome: Outcome


def parse_result(body: bytes) -> Result:
    request_id, kind, retry_after, stale_points = _RESULT.unpack_from(body)
    message = body[_RESULT.size :].decode(errors="replace")
    if kind in (OK, DUPLICATE):
        return Result(request_id, ConsumeResult(duplicate=kind == DUPLICATE, stale_points=stale_points))
    if kind == OVERLOADED:
        return Result(request_id, Overloaded(message, retry_after))
    return Result(request_id, Unavailable(message, retry_after))


def parse_consume(body: bytes) -> tuple[int, bytes]:
    (request_id,) = _ID.unpack_from(body)
    return request_id, body[_ID.size :]


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes] | None:
    """The next frame's kind and body, or None at the end of the stream (the other process is gone)."""
    try:
        length, kind = _HEADER.unpack(await reader.readexactly(_HEADER.size))
        if not 1 <= length <= MAX_FRAME_BYTES:
            raise ConnectionError(f"worker link frame of {length} bytes")
        return kind, await reader.readexactly(length - 1)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
