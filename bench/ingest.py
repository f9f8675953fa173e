"""End-to-end ingest: a fresh collector per run, pre-generated requests sent at `max` for a few seconds, then the
API polled until its totals equal what was acknowledged."""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import pregenerate, start_collector, total_of, url_of, visible
from bench.report import ENCODING
from loadgen import run
from pdata import Sender
from receiver.otlp.ingest import decode
from tests.support.collector import CollectorProcess


def decode_ceiling(protocol: str, shape: str, items: int) -> float:
    """Points+records/s of parse + flatten (receiver.otlp.ingest.decode) in this one process, no I/O."""
    requests = pregenerate(protocol, shape, items, 2000, seed=7)
    encoding = ENCODING[protocol]
    sender = Sender()
    best = 0.0
    for _ in range(2):
        began = time.perf_counter()
        count = 0
        for request in requests:
            count += decode(request.signal, request.body, encoding, sender).batch.size
        best = max(best, count / (time.perf_counter() - began))
    return best


def end_to_end(
    root: Path,
    protocol: str,
    shape: str,
    items: int,
    seconds: float,
    name: str = "",
    flags: list[str] | None = None,
    **env: str,
) -> dict[str, Any]:
    requests = pregenerate(protocol, shape, items, 5000, seed=11)
    expected = total_of(requests)
    collector = start_collector(root, name or f"e2e-{protocol.replace('/', '-')}-{shape}", flags, **env)
    try:
        cpu_began, wall_began = time.process_time(), time.perf_counter()
        result = asyncio.run(
            run(
                requests,
                url=url_of(collector, protocol),
                protocol=protocol,
                shape=shape,
                developers=5000,
                concurrency=64 if shape == "client" else 16,
                duration_s=seconds,
                label=f"{protocol:13} {shape:7}",
            )
        )
        # The requests are encoded beforehand (pregenerate): the loadgen's own CPU on the shared cores is this.
        loadgen_cores = (time.process_time() - cpu_began) / (time.perf_counter() - wall_began)
        matched, waited, _ = visible(collector, result.accepted)
        summary = result.summary()
        summary["loadgen_cpu_cores"] = round(loadgen_cores, 2)
        summary["pool_items"] = expected.items
        summary["visible_after_last_ack_s"] = round(waited, 3)
        summary["api_totals_match"] = matched and result.failed == 0
        summary["items_per_s_committed"] = result.accepted.items / result.last_ack_s if result.last_ack_s else 0
        # With queue.mode=wal an acknowledgement means "in the queue": the rate the store kept up with is the
        # acknowledged items over the time until the API showed them all.
        stored_after_s = result.elapsed_s + waited
        summary["items_per_s_stored"] = result.accepted.items / stored_after_s if matched and stored_after_s else 0
        if protocol == "grpc" and shape == "gateway":
            summary["metrics_scrape"] = scrape(collector)
        return summary
    finally:
        collector.stop()


def scrape(collector: CollectorProcess, repeat: int = 20) -> dict[str, Any]:
    samples, series = [], 0
    with httpx.Client(timeout=10) as client:
        for _ in range(repeat):
            began = time.perf_counter()
            text = client.get(collector.metrics_url).text
            samples.append((time.perf_counter() - began) * 1000)
            series = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    return {"p50_ms": round(statistics.median(samples), 2), "series": series}
