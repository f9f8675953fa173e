"""Memory under overload: gateway traffic offered open loop at 2× a sustainable rate, no retries. Memory must stay
bounded and the excess be answered 429 / RESOURCE_EXHAUSTED with Retry-After; whatever was acknowledged must all
be in the API.

The collector's memory is its process tree's: with `--workers N` the receiver processes are its children, and
their RSS is summed (pages they share, such as libraries mapped before the fork, count once per process: an
upper bound), sampled every 100 ms; idle is the same sum once the collector is ready, before any traffic. Beside
it, the anonymous part of the same samples (RssAnon): what the processes allocated, apart from the pages of the
files they map (the engine's library among them)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import Resident, pregenerate, process_tree, resident, rss_of, start_collector, url_of, visible
from loadgen import run


def overload(
    root: Path,
    protocol: str,
    sustainable_items_per_s: float,
    seconds: float,
    name: str = "",
    flags: list[str] | None = None,
    **env: str,
) -> dict[str, Any]:
    offered = 2 * sustainable_items_per_s
    requests = pregenerate(protocol, "gateway", int(offered * seconds), 5000, seed=31)
    rate = len(requests) / seconds
    collector = start_collector(root, name or f"overload-{protocol.replace('/', '-')}", flags, **env)
    assert collector.process is not None
    pid = collector.process.pid
    time.sleep(1.0)  # receiver processes (--workers) report ready with the collector; let them settle
    processes = process_tree(pid)
    idle = {process: resident(process) for process in processes}
    baseline = sum(memory.rss for memory in idle.values())
    samples: list[int] = []
    anonymous_samples: list[int] = []
    # Per process: where the tree's growth is (the writer, or the receivers), all of it and its anonymous part.
    peaks: dict[int, Resident] = {}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            total = anonymous = 0
            for process in process_tree(pid) if len(processes) > 1 else processes:
                memory = resident(process)
                total += memory.rss
                anonymous += memory.anonymous
                peak = peaks.get(process, Resident())
                peaks[process] = Resident(max(peak.rss, memory.rss), max(peak.anonymous, memory.anonymous))
            samples.append(total)
            anonymous_samples.append(anonymous)
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = asyncio.run(
            run(
                requests,
                url=url_of(collector, protocol),
                protocol=protocol,
                shape="gateway",
                rate=rate,
                concurrency=1024,
                retry=False,
                timeout_s=60,
                label=f"overload {protocol:8}",
            )
        )
        matched, _, _ = visible(collector, result.accepted, timeout_s=60)
        # One process: its own high-water mark catches a peak between two samples.
        peak_one = rss_of(pid)[1] if len(processes) == 1 else 0
    finally:
        stop.set()
        sampler.join()
        collector.stop()
    summary = result.summary()
    refused = {status: count for status, count in summary["answers"].items() if status not in ("OK", "200")}
    return {
        "protocol": protocol,
        "processes": len(processes),
        "offered_items_per_s": round(offered),
        "accepted_items_per_s": summary["items_per_s"],
        "baseline_rss_mb": round(baseline / 2**20),
        "peak_rss_mb": round(max([peak_one, *samples]) / 2**20),
        "baseline_anonymous_mb": round(sum(memory.anonymous for memory in idle.values()) / 2**20),
        "peak_anonymous_mb": round(max(anonymous_samples, default=0) / 2**20),
        # The writer (the collector's own process) first, then each receiver process: idle and peak RSS, and
        # their anonymous part.
        "per_process_rss_mb": [
            {
                "process": "writer" if process == pid else "receiver",
                "idle": round(idle.get(process, Resident()).rss / 2**20),
                "peak": round(peaks[process].rss / 2**20),
                "idle_anonymous": round(idle.get(process, Resident()).anonymous / 2**20),
                "peak_anonymous": round(peaks[process].anonymous / 2**20),
            }
            for process in sorted(peaks, key=lambda process: (process != pid, process))
        ],
        "refused": refused,
        "refused_with_retry_after": summary["refusals_with_retry_after"],
        "latency_p99_ms": summary["latency_p99_ms"],
        "acknowledged_all_visible": matched,
    }
