"""`make bench`: decode ceiling, end-to-end ingest per protocol and shape, ingest-to-visible latency, memory
under overload, /metrics scrape and query speed at scale, measured side by side and printed as one table.

    python -m bench.run            # full (~50 min on 2 cores, ~23 with --history-dir reusing its year)
    python -m bench.run --quick    # smaller figures (~4 min)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import history, views
from bench.common import MEMORY_ENV, CollectorFlags, log, pregenerate, start_collector
from bench.durable import DIRECT_PROTOCOLS, GATEWAY_ROUNDS, direct_sections, queue_sections
from bench.ingest import decode_ceiling, end_to_end
from bench.overload import overload
from bench.report import ENCODING, durable_rows, history_rows, table
from exporters.clickhouse.summaries import DaySummaries
from loadgen import PROTOCOLS, Workload, run

# ------------------------------------------------------------------------------------------------ collector


def server_ingest(root: Path, items: int, seconds: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """The gRPC gateway run again with storage.dsn=http://… on the test ClickHouse server
    (tests/support/clickhouse_http.py: ClickHouse's HTTP interface over chDB, in its own process): with the
    replicas' shared checks (dedup.shared, the default there), then without them, each in a database of its own."""
    from tests.support.clickhouse_http import ClickHouseHttpServer

    server = ClickHouseHttpServer(data_dir=root / "clickhouse-http").start()
    try:
        shared = end_to_end(root, "grpc", "gateway", items, seconds, "e2e-grpc-gateway-server",
                            CC_ANALYTICS_STORAGE_DSN=server.dsn("bench"), **MEMORY_ENV)  # fmt: skip
        unshared = end_to_end(root, "grpc", "gateway", items, seconds, "e2e-grpc-gateway-server-unshared",
                              CC_ANALYTICS_STORAGE_DSN=server.dsn("bench_unshared"),
                              CC_ANALYTICS_DEDUP_SHARED="false", **MEMORY_ENV)  # fmt: skip
        return shared, unshared
    finally:
        server.kill()


def scrape_series(series: int = 10_000, runs: int = 20) -> dict[str, Any]:
    """bench/scrape_bench.py in its own process: the /metrics body rendered with `series` counter series."""
    command = [sys.executable, "-m", "bench.scrape_bench", "--series", str(series), "--runs", str(runs)]
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=root, check=False)
    match = re.search(
        r"(\d+) counter series: median ([\d.]+) ms, worst ([\d.]+) ms, ([\d.]+) MB; with gzip: median ([\d.]+) ms",
        done.stdout,
    )
    if match is None:
        return {"series": series, "error": (done.stdout + done.stderr).strip()[-300:]}
    held, median, worst, megabytes, gzipped = match.groups()
    return {"series": int(held), "p50_ms": float(median), "worst_ms": float(worst), "body_mb": float(megabytes),
            "gzip_p50_ms": float(gzipped)}  # fmt: skip


# ------------------------------------------------------------------------------------------------ latency


def latency(root: Path, background_items_per_s: float, seconds: float, probes: int) -> dict[str, Any]:
    """Probe requests (one developer each, its own organization) sent during a steady background load at
    half the measured sustainable rate; each probe's latency is send → visible in the analytics API."""
    background = pregenerate("grpc", "gateway", int(background_items_per_s * seconds), 5000, seed=21)
    rate = len(background) / seconds
    probe_requests = []
    for index in range(probes):
        workload = Workload(1, "grpc", "client", seed=1000 + index, organization=f"probe-{index}")
        probe_requests.append(next(workload.requests()))
    collector = start_collector(root, "latency", **MEMORY_ENV)
    today = datetime.now(UTC).date()
    latencies: list[float] = []

    def poll(index: int, sent_at: float) -> None:
        while time.perf_counter() - sent_at < 30:
            totals = collector.analytics(today - timedelta(days=1), today + timedelta(days=1), org=f"probe-{index}")
            if totals["totals"]["active_users"] >= 1:
                latencies.append(time.perf_counter() - sent_at)
                return
            time.sleep(0.01)

    async def probe_all() -> None:
        from loadgen import GrpcSender

        sender = GrpcSender(collector.otlp_grpc_url, {}, 30)
        await asyncio.sleep(min(1.0, seconds / 4))
        threads = []
        for index, request in enumerate(probe_requests):
            sent_at = time.perf_counter()
            answer = await sender.send(request)
            if answer.ok:
                thread = threading.Thread(target=poll, args=(index, sent_at))
                thread.start()
                threads.append(thread)
            await asyncio.sleep(max(0.05, (seconds - 2) / probes))
        await asyncio.to_thread(lambda: [thread.join() for thread in threads])
        await sender.close()

    async def both() -> None:
        await asyncio.gather(
            run(
                background,
                url=collector.otlp_grpc_url,
                protocol="grpc",
                shape="gateway",
                rate=rate,
                concurrency=16,
                label="background   ",
                progress=True,
            ),
            probe_all(),
        )

    try:
        asyncio.run(both())
    finally:
        collector.stop()
    ordered = sorted(latencies)
    pick = (lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000) if ordered else (lambda q: math.nan)
    return {"probes": probes, "seen": len(ordered), "p50_ms": round(pick(0.5), 1), "p99_ms": round(pick(0.99), 1),
            "background_items_per_s": round(background_items_per_s)}  # fmt: skip


# ------------------------------------------------------------------------------------------------ history


def query_at_scale(
    root: Path, members: int, days: int, repeat: int, dense_days: int, keep: Path | None = None
) -> dict[str, Any]:
    """Generate the history (into `keep` when given, reused by the next run of the same size) and time its views."""
    directory = keep or root / "history"
    made = history.generated(directory)
    if made and (made["members"], made["days"], made["dense_days"]) != (members, days, dense_days):
        raise SystemExit(f"{directory} holds {made['members']} members × {made['days']} days, the last "
                         f"{made['dense_days']} at real density: not this run's size")  # fmt: skip
    if made:
        end = datetime.fromisoformat(made["end"]).date()
        seconds = made["generate_s"]
        store = history.open_store(directory)  # applies any newer migration, backfills included
    else:
        end = datetime.now(UTC).date()
        store, seconds = history.generate(directory, members, days, end, dense_days=dense_days)
    try:
        counts = history.counts(store)
        # The day summaries the collector keeps current after commits (none yet for a new history).
        refreshed = DaySummaries(store, 0).refresh()
        log(f"day summaries: {refreshed.days} days written in {refreshed.seconds:.1f} s")
        # time_views covers the read API and every ClickHouse dashboard panel (macros expanded).
        timings = views.time_views(store, end, repeat=repeat)
    finally:
        store.close()
    return {"members": members, "days": days, "dense_days": dense_days, "generate_s": round(seconds, 1), "counts": counts,
            "summaries": {"days": refreshed.days, "seconds": round(refreshed.seconds, 1)},
            "timings": [{"name": t.name, "view_p50_ms": round(t.view_p50_ms, 1), "raw_p50_ms": round(t.raw_p50_ms, 1),
                         "ratio": round(t.ratio, 1), "rows": t.rows} for t in timings]}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller figures, ~4 minutes")
    parser.add_argument("--skip-history", action="store_true", help="skip the query-at-scale section")
    parser.add_argument("--only-e2e", action="store_true", help="decode ceiling and end-to-end ingest only")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--only-queries", action="store_true", help="the query-at-scale section only")
    parser.add_argument("--history-dir", type=Path, help="generate the history here once, reuse it on later runs")
    parser.add_argument("--collector-flags", default="", metavar="FLAGS",
                        help="flags after `run` for the collectors of the queue.mode=wal rows, e.g. '--workers 2'")  # fmt: skip
    parser.add_argument("--direct", action="store_true",
                        help="also the direct-client capacity search and the store outage (full: ~25 min more)")  # fmt: skip
    parser.add_argument("--only-queue", action="store_true",
                        help="the queue.mode=wal sections only: gateway ingest against the decode ceiling, 2× overload")  # fmt: skip
    parser.add_argument("--gateway-rounds", type=int, metavar="N",
                        help=f"gateway runs per protocol in the queue.mode=wal rows, the row giving the median (default "
                             f"{GATEWAY_ROUNDS}, --quick 1)")  # fmt: skip
    parser.add_argument("--only-direct", action="store_true",
                        help="the direct-client capacity search and the store outage only")  # fmt: skip
    parser.add_argument("--direct-protocols", default=",".join(DIRECT_PROTOCOLS),
                        help="protocols of the capacity search, comma-separated (empty: none)")  # fmt: skip
    parser.add_argument("--direct-start", type=int, help="developers of the search's first step")
    parser.add_argument("--outage-developers", type=int,
                        help="developers during the store outage (default: half the measured gRPC capacity)")  # fmt: skip
    arguments = parser.parse_args(argv)
    if arguments.gateway_rounds is not None and arguments.gateway_rounds < 1:
        parser.error("--gateway-rounds must be at least 1")
    flags = CollectorFlags(arguments.collector_flags)
    protocols = tuple(protocol for protocol in arguments.direct_protocols.split(",") if protocol)
    quick = arguments.quick
    began = time.perf_counter()
    cpu = "?"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    results: dict[str, Any] = {"mode": "quick" if quick else "full", "cores": os.cpu_count() or 1, "cpu": cpu,
                               "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}  # fmt: skip
    scale = 0.25 if quick else 1.0
    # members, days, runs per query, the last days at real density (quick: one, to keep it to minutes)
    history_size = (2_000, 28, 5, 1) if quick else (10_000, 364, 9, history.DENSE_DAYS)
    if arguments.only_queries:
        with tempfile.TemporaryDirectory(prefix="cc-bench-") as temporary:
            log("query speed at scale")
            results["history"] = query_at_scale(Path(temporary), *history_size, keep=arguments.history_dir)
        if arguments.json:
            arguments.json.write_text(json.dumps(results, indent=2, default=str))
        print("\n".join(["| measurement | figure | goal | met |", "|---|---|---|---|",
                         *history_rows(results["history"])]))  # fmt: skip
        return 0
    if arguments.only_direct or arguments.only_queue:
        with tempfile.TemporaryDirectory(prefix="cc-bench-") as temporary:
            if arguments.only_queue:
                log("decode ceiling")
                results["decode"] = {"protobuf gateway": decode_ceiling("grpc", "gateway", int(60_000 * scale))}
                queue_sections(Path(temporary), results, quick, flags, arguments.gateway_rounds)
            else:
                direct_sections(Path(temporary), results, quick, flags, protocols, arguments.direct_start,
                                arguments.outage_developers)  # fmt: skip
        results["took_s"] = time.perf_counter() - began
        if arguments.json:
            arguments.json.write_text(json.dumps(results, indent=2, default=str))
        sections = "queue sections" if arguments.only_queue else "direct clients"
        print("\n".join([f"claude-code-analytics bench, {sections} — {results['mode']} mode, {results['cores']} "
                         f"cores, {cpu}, {results['started']}, took {results['took_s']:.0f} s", "",
                         "| measurement | figure | goal | met |", "|---|---|---|---|", *durable_rows(results)]))  # fmt: skip
        return 0
    with tempfile.TemporaryDirectory(prefix="cc-bench-") as temporary:
        root = Path(temporary)
        log("decode ceiling")
        results["decode"] = {
            f"{encoding} {shape}": decode_ceiling(protocol, shape, int((60_000 if encoding == "protobuf" else 12_000) * scale))
            for protocol, encoding in (("grpc", "protobuf"), ("http/json", "json"))
            for shape in ("client", "gateway")
        }  # fmt: skip
        results["items_per_developer_s"] = Workload(10).items_per_developer_minute() / 60
        results["e2e"] = []
        for protocol in PROTOCOLS:
            for shape in ("client", "gateway"):
                ceiling = results["decode"][f"{ENCODING[protocol]} {shape}"]
                seconds = 3 if quick else 10
                # A pool the loadgen cannot exhaust at the rates seen (were it to, the rate is still acknowledged
                # items / time to the last acknowledgement). OTLP/JSON pools are smaller: encoding them
                # (MessageToDict) runs at ~9 000 items/s, and end-to-end JSON ingest is ~10 000/s.
                cap = 6_000 if shape == "client" else (40_000 if ENCODING[protocol] == "protobuf" else 20_000)
                items = int(min(ceiling, cap) * seconds)
                log(f"end-to-end {protocol} {shape}: {seconds} s from a pool of {items:,} points+records")
                run_ = end_to_end(root, protocol, shape, items, seconds, **MEMORY_ENV)
                results["e2e"].append(run_)
                if "metrics_scrape" in run_:
                    results["metrics_scrape"] = run_.pop("metrics_scrape")
        seconds = 3 if quick else 5
        items = int(min(results["decode"]["protobuf gateway"], 40_000) * seconds)
        log(f"end-to-end grpc gateway on the test ClickHouse server (HTTP DSN), dedup.shared on then off: {seconds} s")
        results["e2e_server"], results["e2e_server_unshared"] = server_ingest(root, items, seconds)
        results["e2e_server"].pop("metrics_scrape", None)
        results["e2e_server_unshared"].pop("metrics_scrape", None)
        if not arguments.only_e2e:
            log("/metrics render with 10 000 series (bench/scrape_bench.py)")
            results["metrics_scrape_10k"] = scrape_series(10_000, 20)
            grpc_gateway = next(r for r in results["e2e"] if r["protocol"] == "grpc" and r["shape"] == "gateway")
            sustainable = grpc_gateway["items_per_s_committed"]
            log("ingest-to-visible latency")
            results["latency"] = latency(root, sustainable / 2, 6 if quick else 20, 12 if quick else 40)
            results["overload"] = []
            for protocol in ("grpc", "http/protobuf"):
                log(f"overload {protocol}")
                results["overload"].append(overload(root, protocol, sustainable, 4 if quick else 10, **MEMORY_ENV))
            queue_sections(root, results, quick, flags, arguments.gateway_rounds)
            if arguments.direct:
                direct_sections(root, results, quick, flags, protocols, arguments.direct_start,
                                arguments.outage_developers)  # fmt: skip
            if not arguments.skip_history:
                log("query speed at scale")
                results["history"] = query_at_scale(root, *history_size, keep=arguments.history_dir)
    results["took_s"] = time.perf_counter() - began
    if arguments.json:
        arguments.json.write_text(json.dumps(results, indent=2, default=str))
    if "latency" in results:
        print(table(results))
    else:
        print(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
