"""What both OTLP decoders check and answer alike: the refusal, the limits, and why a point cannot be stored.

The reference path (decoding.protobuf) and the direct JSON path (decoding.direct_json) must give the same rows,
refusals and reasons for every document the direct path takes: they share these rules rather than restate them.
"""

from __future__ import annotations

import math
from typing import Literal

Encoding = Literal["protobuf", "json"]


class DecodeFailure(ValueError):
    """The request body is not a valid OTLP message; the message says why, for the sender."""


# Arrays and key-value lists one attribute or log body may nest. Claude Code nests one or two; protobuf's own
# decoders stop at 100 nested messages (about 30 key-value lists), so 16 is refused alike on every encoding.
MAX_ANY_VALUE_DEPTH = 16
ANY_VALUE_TOO_DEEP = f"an attribute or body value is nested deeper than {MAX_ANY_VALUE_DEPTH} arrays or key-value lists"
# Both JSON decoders stop near 1000 levels (orjson at 1024, the standard library at the recursion limit).
JSON_TOO_DEEP = "JSON body is nested deeper than the decoder's limit of about 1000 levels"


# The store keeps times as DateTime64(9): signed 64-bit nanoseconds, so up to 2262-04-11.
MAX_TIME_NS = 2**63 - 1
# Past 2^53 a double no longer counts in units, and sums of such values overflow to infinity, which no
# JSON figure can carry: no Claude Code counter comes near it.
MAX_VALUE = float(2**53)


def point_problem(value: float, monotonic: bool, time_ns: int, start_ns: int) -> str | None:
    """Why a number point cannot be stored (it is then rejected as partial success), or None."""
    if not math.isfinite(value):
        return "value is not finite"
    if abs(value) > MAX_VALUE:
        return f"value {value:g} is out of range (over 2^53)"
    if monotonic and value < 0:
        return "negative value on a monotonic sum"
    if time_ns == 0:
        return "data point without timeUnixNano"
    if time_ns > MAX_TIME_NS or start_ns > MAX_TIME_NS:
        return "timeUnixNano or startTimeUnixNano after year 2262"
    return None


def format_double(number: float) -> str:
    # A whole number (a count sent as a double) reads as an integer; anything else as Python's shortest repr.
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(number)


def name_from_body(body: str) -> str:
    # Claude Code puts "claude_code.<event>" in the body; older senders only there.
    if body.startswith("claude_code.") and " " not in body:
        return body.removeprefix("claude_code.")
    return ""


def summarise(reasons: list[str]) -> str:
    if not reasons:
        return ""
    unique = list(dict.fromkeys(reasons))
    text = "; ".join(unique[:5])
    if len(unique) > 5:
        text += f"; and {len(unique) - 5} more kinds"
    return text
