"""The log's repeat limit: a flood of the same line costs one line a second, and the next one says how many
were left out; different reasons, and debug lines, are never merged."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from collector.logs import JsonFormatter, RepeatFilter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO, Clock]]:
    stream, clock = io.StringIO(), Clock()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RepeatFilter(interval_s=1.0, per_event=20, clock=clock))
    logger = logging.getLogger("cc_analytics.test_logs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger, stream, clock
    logger.handlers[:] = []


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _refused(logger: logging.Logger, reason: str) -> None:
    logger.warning("otlp.request_refused", extra={"fields": {"status": "overloaded", "reason": reason}})


def test_identical_lines_are_one_a_second_and_the_next_tells_how_many_were_left_out(logged) -> None:
    logger, stream, clock = logged
    for inflight in range(1000):  # numbers differ, the reason is the same
        _refused(logger, f"collector is busy: {inflight} bytes of requests in flight")
    assert len(_lines(stream)) == 1
    clock.now += 1.0
    _refused(logger, "collector is busy: 5 bytes of requests in flight")
    lines = _lines(stream)
    assert len(lines) == 2 and lines[1]["suppressed"] == 999 and "suppressed" not in lines[0]


def test_different_reasons_each_get_their_line(logged) -> None:
    logger, stream, _ = logged
    _refused(logger, "unknown ingest token")
    _refused(logger, "body is not valid JSON")
    _refused(logger, "unknown ingest token")
    assert [line["reason"] for line in _lines(stream)] == ["unknown ingest token", "body is not valid JSON"]


def test_one_event_with_ever_new_fields_is_capped_per_second(logged) -> None:
    logger, stream, clock = logged
    for index in range(100):
        logger.info("http.refused", extra={"fields": {"host": f"evil-{chr(97 + index % 26)}{index}.example"}})
    assert len(_lines(stream)) == 20
    clock.now += 1.0
    logger.info("http.refused", extra={"fields": {"host": "evil-b1.example"}})  # a kind left out before
    lines = _lines(stream)
    assert len(lines) == 21 and lines[-1]["suppressed"] >= 1


def test_debug_lines_are_never_limited(logged) -> None:
    logger, stream, _ = logged
    for _ in range(50):
        logger.debug("otlp.request", extra={"fields": {"status": "ok"}})
    assert len(_lines(stream)) == 50


def test_the_table_of_kinds_stays_bounded() -> None:
    clock = Clock()
    limiter = RepeatFilter(interval_s=1.0, per_event=10**9, max_kinds=100, clock=clock)
    for index in range(10_000):
        record = logging.LogRecord("x", logging.WARNING, "", 0, "event", None, None)
        record.fields = {"reason": "r" + "ab"[index % 2] * (index % 500)}
        limiter.filter(record)
        clock.now += 0.001
    assert len(limiter._kinds) <= 101
