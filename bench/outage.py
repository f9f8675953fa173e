"""A store outage under load: the collector (queue.mode=wal) on the test ClickHouse server
(tests/support/clickhouse_http.py, in its own process), developers connected directly at half the measured
capacity; the server is killed for the outage and started again on the same data.

Reported: answers other than acknowledged (goal none: the durable queue takes the load while the store is away),
what was lost (the API's totals against everything acknowledged, goal nothing), the queue's peak, and the
drain time: from the store's return until the queue's oldest record is again at most 2 s old (the load
continues meanwhile, so the queue is never empty)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from bench.common import DURABLE_ENV, CollectorFlags, log, metric_value, missing, start_collector, url_of, visible
from loadgen.direct import run_direct
from loadgen.templates import Population
from tests.support.clickhouse_http import ClickHouseHttpServer

CAUGHT_UP_AGE_S = 2.0


def outage(
    root: Path,
    population: Population,
    developers: int,
    outage_s: float,
    flags: CollectorFlags,
    protocol: str = "grpc",
    warm_s: float = 15.0,
    after_s: float | None = None,
    drain_timeout_s: float = 900.0,
) -> dict[str, Any]:
    after_s = max(30.0, outage_s / 2) if after_s is None else after_s
    templates = population.templates(developers)
    server = ClickHouseHttpServer(data_dir=root / "outage-clickhouse").start()
    collector = start_collector(root, "outage", flags.args, **DURABLE_ENV,
                                CC_ANALYTICS_STORAGE_DSN=server.dsn("bench_outage"))  # fmt: skip
    marks: dict[str, float] = {}
    queue_peak = {"bytes": 0.0, "age_s": 0.0}

    async def watch_queue(until: float) -> None:
        while time.perf_counter() < until:
            size = await asyncio.to_thread(metric_value, collector, "cc_analytics_queue_bytes")
            age = await asyncio.to_thread(metric_value, collector, "cc_analytics_queue_oldest_record_age_seconds")
            queue_peak["bytes"] = max(queue_peak["bytes"], size or 0.0)
            queue_peak["age_s"] = max(queue_peak["age_s"], age or 0.0)
            await asyncio.sleep(1.0)

    async def caught_up(timeout_s: float) -> None:
        began = time.perf_counter()
        while time.perf_counter() - began < timeout_s:
            age = await asyncio.to_thread(metric_value, collector, "cc_analytics_queue_oldest_record_age_seconds")
            if age is not None and age <= CAUGHT_UP_AGE_S:
                marks["drained"] = time.perf_counter()
                return
            await asyncio.sleep(0.5)

    async def control(started: asyncio.Event) -> None:
        await started.wait()
        await asyncio.sleep(warm_s)
        log(f"store outage: stopping the ClickHouse server for {outage_s:.0f} s")
        # Killed, not stopped: a stopping server still answers on its open connections for a while.
        await asyncio.to_thread(server.kill)
        marks["down"] = time.perf_counter()
        await watch_queue(marks["down"] + outage_s)
        await asyncio.to_thread(server.start)
        marks["up"] = time.perf_counter()
        log(f"store outage: the server is back after {marks['up'] - marks['down']:.0f} s; draining")
        await caught_up(drain_timeout_s)

    async def load() -> Any:
        started = asyncio.Event()
        result, _ = await asyncio.gather(
            run_direct(templates, developers=developers, url=url_of(collector, protocol), protocol=protocol,
                       duration_s=warm_s + outage_s + after_s, timeout_s=30.0, label=f"outage {protocol:8}",
                       on_start=started.set),
            control(started),
        )  # fmt: skip
        return result

    try:
        result = asyncio.run(load())
        matched, _, totals = visible(collector, result.accepted, timeout_s=300)
    finally:
        collector.stop()
        server.kill()
    summary = result.summary()
    refused = {status: count for status, count in summary["answers"].items() if status not in ("OK", "200")}
    drained = marks.get("drained")
    return {
        "protocol": protocol,
        "collector": flags.label() + ", store on the test ClickHouse server",
        "developers": developers,
        "outage_s": round(marks["up"] - marks["down"], 1),
        "requests_per_s": summary["requests_per_s"],
        "acknowledged_requests": summary["requests_ok"],
        "refused": refused,
        "not_acknowledged": summary["requests_failed"],
        "ack_p99_ms": summary["ack_p99_ms"],
        "lost": {} if matched else missing(totals, result.accepted),
        "api_totals_match": matched,
        "queue_peak_mb": round(queue_peak["bytes"] / 2**20, 1),
        "queue_peak_age_s": round(queue_peak["age_s"], 1),
        "drain_s": round(drained - marks["up"], 1) if drained else None,
        "loadgen_cores": summary["loadgen_cores"],
        "send_lag_p99_ms": summary["send_lag_p99_ms"],
    }
