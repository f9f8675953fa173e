"""One JSON line per notable event: {"ts", "level", "event", ...fields}.

Repeated lines are rate-limited (RepeatFilter): a flood of identical errors (a client hammering a limit, a
listener out of file descriptors) costs one line a second, not one per occurrence, so the log stays
readable and cannot fill the disk.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

# Numbers and addresses vary between otherwise identical lines ("17 bytes in flight", "fd=412", "0x7f…").
_VARYING = re.compile(r"0x[0-9a-fA-F]+|\d+")
_SHOWN_VALUE_CHARS = 200  # of each field, when comparing lines


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        suppressed = getattr(record, "suppressed", 0)
        if suppressed:
            line["suppressed"] = suppressed
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class RepeatFilter(logging.Filter):
    """Lets through at most one line per kind per `interval_s`, and at most `per_event` lines per event name
    per `interval_s` whatever their fields; the next line of a kind that passes says how many of that kind
    were left out (`suppressed`).

    A line's kind is its logger, level, event (first line of the message) and fields, with numbers and
    addresses blanked: "1204 bytes in flight" and "1300 bytes in flight" are one kind, two reasons are two.
    Debug lines are never limited (whoever turns them on wants them all).
    """

    def __init__(
        self,
        interval_s: float = 1.0,
        per_event: int = 20,
        max_kinds: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.interval_s = interval_s
        self.per_event = per_event
        self.max_kinds = max_kinds
        self._clock = clock
        self._lock = threading.Lock()
        self._kinds: dict[tuple, list[float | int]] = {}  # kind → [last shown at, left out since]
        self._events: dict[tuple, list[float | int]] = {}  # event → [window start, shown in window]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO:
            return True
        kind = _kind_of(record)
        event = kind[:3]
        now = self._clock()
        with self._lock:
            shown = self._kinds.get(kind)
            if shown is not None and now - shown[0] < self.interval_s:
                shown[1] += 1
                return False
            if not self._event_allows(event, now):
                if shown is None:  # remembered as due, so that its next line passes and tells of this one
                    self._kinds[kind] = [now - self.interval_s, 1]
                else:
                    shown[1] += 1
                return False
            suppressed = int(shown[1]) if shown is not None else 0
            self._kinds[kind] = [now, 0]
            if len(self._kinds) > self.max_kinds:
                self._forget(now)
        if suppressed:
            record.suppressed = suppressed
        return True

    def _event_allows(self, event: tuple, now: float) -> bool:
        window = self._events.get(event)
        if window is None or now - window[0] >= self.interval_s:
            self._events[event] = [now, 1]
            return True
        if window[1] >= self.per_event:
            return False
        window[1] += 1
        return True

    def _forget(self, now: float) -> None:
        """Keep the table bounded: drop kinds not seen for an interval, then, if need be, the oldest half."""
        for table in (self._kinds, self._events):
            for key in [key for key, entry in table.items() if now - entry[0] >= self.interval_s]:
                del table[key]
        if len(self._kinds) > self.max_kinds:
            for key in list(self._kinds)[: len(self._kinds) // 2]:
                del self._kinds[key]


def _kind_of(record: logging.LogRecord) -> tuple:
    message = record.getMessage().split("\n", 1)[0]
    fields: Any = getattr(record, "fields", None)
    shape: tuple = ()
    if isinstance(fields, dict):
        shape = tuple(sorted((str(key), _blank(value)) for key, value in fields.items()))
    error = type(record.exc_info[1]).__name__ if record.exc_info and record.exc_info[1] else ""
    return (record.name, record.levelno, _blank(message), shape, error)


def _blank(value: object) -> str:
    return _VARYING.sub("#", str(value)[:_SHOWN_VALUE_CHARS])


def configure(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RepeatFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Our own lines only; the servers' access logs would be one line per request.
    for noisy in ("uvicorn", "uvicorn.access", "uvicorn.error", "grpc"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
