"""Developers connected directly: real time, open loop, one connection per developer (`--connections per-developer`).

Each developer's exports of one minute (templates.py) are sent when they are due, every minute, over that
developer's own connection, whatever happened to the earlier ones (open loop: a slow collector gets more
requests in flight, not fewer). Two latencies are kept per acknowledged request: from the moment the attempt was
sent to its answer (`latency_*`, as the other modes), and from the moment the export was due to its
acknowledgement, retries and waiting behind the developer's previous request included (`ack_*`: what a
client sees). `send_lag_*` is how late the load generator itself started each send: when it grows, the load
generator is short of CPU and the figures measure it, not the collector.
"""

from __future__ import annotations

import asyncio
import resource
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from loadgen.connections import Connection, connection_for
from loadgen.runner import Progress, RunResult, deliver_one, report_progress
from loadgen.templates import Template, schedule

# Open files kept for everything but the developers' connections (the event loop, grpcio's pipes, logs).
SPARE_FILES = 256


@dataclass
class DirectResult(RunResult):
    connections: int = 0  # developers, each with its connection
    opened: int = 0  # TCP connections opened over the run (reconnections included; gRPC: its channels)
    cancelled: int = 0  # still unanswered `grace_s` after the last send was due
    cpu_s: float = 0.0  # this process's CPU time while the clock ran (what the load generator took)
    ack_after_due_s: array[float] = field(default_factory=lambda: array("d"))
    send_lag_s: array[float] = field(default_factory=lambda: array("d"))

    @staticmethod
    def _percentile_ms(values: array[float], fraction: float) -> float:
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000

    def summary(self) -> dict[str, Any]:
        summary = super().summary()
        summary.update(
            connections=self.connections,
            connections_opened=self.opened,
            cancelled=self.cancelled,
            loadgen_cores=round(self.cpu_s / self.elapsed_s, 3) if self.elapsed_s else 0.0,
            ack_p50_ms=round(self._percentile_ms(self.ack_after_due_s, 0.50), 2),
            ack_p99_ms=round(self._percentile_ms(self.ack_after_due_s, 0.99), 2),
            send_lag_p50_ms=round(self._percentile_ms(self.send_lag_s, 0.50), 2),
            send_lag_p99_ms=round(self._percentile_ms(self.send_lag_s, 0.99), 2),
        )
        return summary


def ensure_open_files(needed: int) -> None:
    """Raise this process's open-file limit to `needed` (the hard limit too where allowed), else say what to do."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft >= needed:
        return
    for limits in ((needed, max(needed, hard)), (hard, hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, limits)
        except (ValueError, OSError):
            continue
        if limits[0] >= needed:
            return
    raise OSError(
        f"{needed} open files are needed (one connection per developer); the limit is {hard}: raise ulimit -n"
    )


async def _connect_all(connections: list[Connection], concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def connect(connection: Connection) -> None:
        async with gate:
            await connection.connect()

    await asyncio.gather(*(connect(connection) for connection in connections))


async def run_direct(
    templates: list[Template],
    *,
    developers: int,
    url: str,
    protocol: str,
    duration_s: float,
    headers: dict[str, str] | None = None,
    retry: bool = True,
    max_attempts: int = 20,
    timeout_s: float = 30.0,
    grace_s: float | None = None,
    progress: bool = True,
    label: str = "direct",
    on_start: Callable[[], None] | None = None,
    speed: float = 1.0,
) -> DirectResult:
    """Send `templates` (the exports of `developers` developers over one minute) again every minute for
    `duration_s`, each when due, each developer over its own connection; tally what was acknowledged.

    gRPC channels are connected before the clock starts (an exporter keeps its channel); HTTP connections are
    opened at a developer's first request and again whenever the server closed them (its keep-alive timeout).
    Requests still unanswered `grace_s` (default `timeout_s`) after the end are cancelled and counted.
    `on_start` is called as the clock starts (after the gRPC connections are made). `speed` > 1 plays each
    minute of exports faster (a short check of the totals, not a load at Claude Code's intervals)."""
    ensure_open_files(developers + SPARE_FILES)
    connections = [connection_for(protocol, url, headers or {}, timeout_s) for _ in range(developers)]
    result = DirectResult(protocol, "client", developers, connections=developers)
    bar = Progress(label, duration_s, None, progress)
    pending: set[asyncio.Task[None]] = set()
    try:
        if protocol == "grpc":
            await _connect_all(connections, 256)
        if on_start is not None:
            on_start()
        start, cpu_began = time.perf_counter(), time.process_time()

        async def send(due: float, template: Template) -> None:
            result.send_lag_s.append(time.perf_counter() - start - due)
            result.sent += 1
            request = template.request()
            if await deliver_one(connections[template.developer].send, request, result, start, retry, max_attempts):
                result.ack_after_due_s.append(time.perf_counter() - start - due)

        reporter = asyncio.create_task(report_progress(bar, start, result))
        try:
            for due, template in schedule(templates, duration_s, speed):
                delay = start + due - time.perf_counter()
                if delay > 0.001:
                    await asyncio.sleep(delay)
                task = asyncio.create_task(send(due, template))
                pending.add(task)
                task.add_done_callback(pending.discard)
            await asyncio.sleep(max(0.0, start + duration_s - time.perf_counter()))
            if pending:
                _, late = await asyncio.wait(set(pending), timeout=timeout_s if grace_s is None else grace_s)
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)
                result.cancelled = len(late)
                # A call that ended by the cancellation was already counted as failed with its answer.
                result.failed += sum(1 for task in late if task.cancelled())
        finally:
            reporter.cancel()
            result.elapsed_s = time.perf_counter() - start
            result.cpu_s = time.process_time() - cpu_began
            bar.show(result.elapsed_s, result, final=True)
    finally:
        for task in list(pending):
            task.cancel()
        result.opened = sum(connection.opened for connection in connections)
        await asyncio.gather(*(connection.close() for connection in connections), return_exceptions=True)
    return result
