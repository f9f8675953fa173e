"""Sending a stream of requests at a rate, retrying refusals that ask for it, and tallying what was acknowledged."""

from __future__ import annotations

import asyncio
import random
import sys
import time
from array import array
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from loadgen.connections import sender_for
from loadgen.senders import Answer
from loadgen.tally import Tally
from loadgen.workload import Request

# Sent again with the same bytes, as the OTLP specification has exporters do: HTTP 429, 502, 503 and 504, and a
# connection that could not be made or broke before the answer; gRPC's CANCELLED, DEADLINE_EXCEEDED, ABORTED,
# OUT_OF_RANGE, UNAVAILABLE and DATA_LOSS, and RESOURCE_EXHAUSTED only with the server's retry hint.
_RETRYABLE_HTTP = {"429", "502", "503", "504"}
_RETRYABLE_GRPC = {"CANCELLED", "DEADLINE_EXCEEDED", "ABORTED", "OUT_OF_RANGE", "UNAVAILABLE", "DATA_LOSS"}


@dataclass
class RunResult:
    protocol: str
    shape: str
    developers: int
    elapsed_s: float = 0.0
    sent: int = 0  # requests attempted (retries not counted again)
    succeeded: int = 0
    failed: int = 0
    attempts: Counter[str] = field(default_factory=Counter)  # answer status -> count, every attempt
    retry_after: Counter[str] = field(default_factory=Counter)  # refusal status -> answers that carried Retry-After
    latencies_s: array[float] = field(default_factory=lambda: array("d"))  # per successful attempt
    accepted: Tally = field(default_factory=Tally)
    first_ack_s: float = 0.0
    last_ack_s: float = 0.0

    def percentile_ms(self, fraction: float) -> float:
        if not self.latencies_s:
            return float("nan")
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000

    def summary(self) -> dict[str, Any]:
        elapsed = self.last_ack_s or self.elapsed_s or 1e-9
        return {
            "protocol": self.protocol,
            "shape": self.shape,
            "developers": self.developers,
            "elapsed_s": round(self.elapsed_s, 3),
            "requests_sent": self.sent,
            "requests_ok": self.succeeded,
            "requests_failed": self.failed,
            "requests_per_s": round(self.succeeded / elapsed, 1),
            "items_per_s": round(self.accepted.items / elapsed, 1),
            "points": self.accepted.points,
            "records": self.accepted.records,
            "latency_p50_ms": round(self.percentile_ms(0.50), 2),
            "latency_p99_ms": round(self.percentile_ms(0.99), 2),
            "answers": dict(self.attempts),
            "refusals_with_retry_after": dict(self.retry_after),
            "totals": self.accepted.figures(),
        }


class Progress:
    """A one-line progress bar on stderr (a line every few seconds when stderr is not a terminal)."""

    def __init__(self, label: str, total_s: float | None, total_requests: int | None, enabled: bool = True) -> None:
        self.label = label
        self.total_s = total_s
        self.total_requests = total_requests
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self._last_line = 0.0

    def show(self, elapsed: float, result: RunResult, final: bool = False) -> None:
        if not self.enabled:
            return
        if not self.tty and not final and time.monotonic() - self._last_line < 5:
            return
        self._last_line = time.monotonic()
        if self.total_requests:
            fraction = result.sent / self.total_requests
        elif self.total_s:
            fraction = elapsed / self.total_s
        else:
            fraction = 0.0
        fraction = max(0.0, min(1.0, fraction))
        bar = "#" * int(fraction * 24) + "." * (24 - int(fraction * 24))
        errors = sum(count for status, count in result.attempts.items() if status not in ("OK", "200"))
        rate = result.accepted.items / elapsed if elapsed > 0 else 0
        line = (
            f"{self.label} [{bar}] {elapsed:5.1f}s  req {result.succeeded} ok / {result.sent} sent  "
            f"{rate:,.0f} items/s  refused/errors {errors}"
        )
        end = "\n" if final or not self.tty else ""
        sys.stderr.write(("\r" if self.tty else "") + line + end)
        sys.stderr.flush()


async def deliver_one(
    send: Callable[[Request], Awaitable[Answer]],
    request: Request,
    result: RunResult,
    start: float,
    retry: bool = True,
    max_attempts: int = 20,
) -> bool:
    """Send `request` until acknowledged or refused for good, retrying the refusals that ask for it with the same
    bytes after their Retry-After (at most 2 s, jittered); counts every answer in `result`. True if acknowledged."""
    for attempt in range(max_attempts):
        began = time.perf_counter()
        answer = await send(request)
        result.attempts[answer.status] += 1
        if answer.ok:
            now = time.perf_counter()
            result.latencies_s.append(now - began)
            result.succeeded += 1
            result.accepted.add(request.tally)
            result.last_ack_s = now - start
            result.first_ack_s = result.first_ack_s or result.last_ack_s
            return True
        if answer.retry_after is not None:
            result.retry_after[answer.status] += 1
        retryable = (
            answer.status in _RETRYABLE_HTTP
            or answer.status in _RETRYABLE_GRPC
            or answer.connection_failed
            or (answer.status == "RESOURCE_EXHAUSTED" and answer.retry_after is not None)
        )
        if not (retry and retryable) or attempt == max_attempts - 1:
            break
        try:
            wait = float(answer.retry_after) if answer.retry_after else 0.5
        except ValueError:
            wait = 0.5
        await asyncio.sleep(min(wait, 2.0) * (0.5 + random.random()))
    result.failed += 1
    return False


async def run(
    requests: Iterable[Request],
    *,
    url: str,
    protocol: str,
    shape: str = "client",
    developers: int = 0,
    rate: str | float = "max",
    duration_s: float | None = None,
    total_requests: int | None = None,
    concurrency: int = 64,
    headers: dict[str, str] | None = None,
    retry: bool = True,
    max_attempts: int = 20,
    timeout_s: float = 30.0,
    progress: bool = True,
    label: str = "loadgen",
) -> RunResult:
    """Send `requests` (until exhausted, `duration_s` or `total_requests`) and tally the acknowledged ones.

    rate: "max" (as fast as they are accepted, `concurrency` in flight), "realtime" (each request when a
    real population would send it), or a number of requests per second (open loop, up to `concurrency`).
    Answers the OTLP specification has exporters retry (429, 502, 503, 504 and a failed or broken connection;
    gRPC UNAVAILABLE, CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, DATA_LOSS, RESOURCE_EXHAUSTED with a
    retry hint) are retried with the same bytes after their Retry-After (at most 2 s), unless `retry` is False.
    """
    sender = sender_for(protocol, url, headers or {}, timeout_s, concurrency)
    result = RunResult(protocol, shape, developers)
    iterator = iter(requests)
    bar = Progress(label, duration_s, total_requests, progress)
    start = time.perf_counter()
    deadline = start + duration_s if duration_s else None
    counter = 0
    per_second = float(rate) if rate not in ("max", "realtime") else 0.0

    async def deliver(request: Request) -> None:
        await deliver_one(sender.send, request, result, start, retry, max_attempts)

    async def worker() -> None:
        nonlocal counter
        while True:
            if deadline is not None and time.perf_counter() >= deadline:
                return
            if total_requests is not None and counter >= total_requests:
                return
            try:
                request = next(iterator)
            except StopIteration:
                return
            index = counter
            counter += 1
            due = request.due_s if rate == "realtime" else (index / per_second if per_second else None)
            if due is not None:
                delay = start + due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                if deadline is not None and time.perf_counter() >= deadline:
                    return
            result.sent += 1
            await deliver(request)

    reporter = asyncio.create_task(report_progress(bar, start, result))
    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        reporter.cancel()
        result.elapsed_s = time.perf_counter() - start
        bar.show(result.elapsed_s, result, final=True)
        await sender.close()
    return result


async def report_progress(bar: Progress, start: float, result: RunResult) -> None:
    """Redraw the progress bar twice a second until cancelled."""
    while True:
        await asyncio.sleep(0.5)
        bar.show(time.perf_counter() - start, result)
