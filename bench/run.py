"""`make bench`: decode ceiling, end-to-end ingest per protocol and shape, ingest-to-visible latency, memory
under overload, /metrics scrape and query speed at scale, measured side by side and printed as one table.

    python -m bench.run            # full (< 10 min on 2 cores)
    python -m bench.run --quick    # smaller figures (< 2 min)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench import history
from bench.report import ENCODING, history_rows, table
from loadgen import PROTOCOLS, Request, Tally, Workload, run
from pdata import Sender
from receiver.otlp.ingest import decode
from tests.support.collector import CollectorProcess


def log(message: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def pregenerate(
    protocol: str, shape: str, items: int, developers: int, seed: int, organization: str = ""
) -> list[Request]:
    workload = Workload(developers, protocol, shape, gateway_batch=50, seed=seed, organization=organization)
    requests, total = [], 0
    for request in workload.requests():
        requests.append(request)
        total += request.tally.items
        if total >= items:
            break
    return requests


def total_of(requests: list[Request]) -> Tally:
    tally = Tally()
    for request in requests:
        tally.add(request.tally)
    return tally


# ------------------------------------------------------------------------------------------------ decode


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


# ------------------------------------------------------------------------------------------------ collector


def start_collector(root: Path, name: str, **env: str) -> CollectorProcess:
    return CollectorProcess(data_dir=root / name, extra_env=dict(env)).start()


def url_of(collector: CollectorProcess, protocol: str) -> str:
    return collector.otlp_grpc_url if protocol == "grpc" else collector.otlp_http_url


def visible(collector: CollectorProcess, expected: Tally, timeout_s: float = 60.0) -> tuple[bool, float, dict]:
    """Poll the API until its totals equal `expected`; (matched, seconds waited, totals)."""
    today = datetime.now(UTC).date()
    want = expected.figures()
    began = time.perf_counter()
    totals: dict = {}
    while time.perf_counter() - began < timeout_s:
        totals = collector.analytics(today - timedelta(days=1), today + timedelta(days=1))["totals"]
        if all(totals[key] == want[key] for key in ("accepted_lines", "removed_lines", "accepts", "rejects",
                                                      "active_users", "sessions")) and math.isclose(
            totals["spend_usd"], expected.spend_usd, rel_tol=1e-9, abs_tol=1e-6
        ):  # fmt: skip
            return True, time.perf_counter() - began, totals
        time.sleep(0.02)
    return False, time.perf_counter() - began, totals


def end_to_end(
    root: Path, protocol: str, shape: str, items: int, seconds: float, name: str = "", **env: str
) -> dict[str, Any]:
    requests = pregenerate(protocol, shape, items, 5000, seed=11)
    expected = total_of(requests)
    collector = start_collector(root, name or f"e2e-{protocol.replace('/', '-')}-{shape}", **env)
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
        if protocol == "grpc" and shape == "gateway":
            summary["metrics_scrape"] = scrape(collector)
        return summary
    finally:
        collector.stop()


def server_ingest(root: Path, items: int, seconds: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """The gRPC gateway run again with storage.dsn=http://… on the test ClickHouse server
    (tests/support/clickhouse_http.py: ClickHouse's HTTP interface over chDB, in its own process): with the
    replicas' shared checks (dedup.shared, the default there), then without them, each in a database of its own."""
    from tests.support.clickhouse_http import ClickHouseHttpServer

    server = ClickHouseHttpServer(data_dir=root / "clickhouse-http").start()
    try:
        shared = end_to_end(root, "grpc", "gateway", items, seconds, "e2e-grpc-gateway-server",
                            CC_ANALYTICS_STORAGE_DSN=server.dsn("bench"))  # fmt: skip
        unshared = end_to_end(root, "grpc", "gateway", items, seconds, "e2e-grpc-gateway-server-unshared",
                              CC_ANALYTICS_STORAGE_DSN=server.dsn("bench_unshared"),
                              CC_ANALYTICS_DEDUP_SHARED="false")  # fmt: skip
        return shared, unshared
    finally:
        server.kill()


def scrape(collector: CollectorProcess, repeat: int = 20) -> dict[str, Any]:
    samples, series = [], 0
    with httpx.Client(timeout=10) as client:
        for _ in range(repeat):
            began = time.perf_counter()
            text = client.get(collector.metrics_url).text
            samples.append((time.perf_counter() - began) * 1000)
            series = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    return {"p50_ms": round(statistics.median(samples), 2), "series": series}


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
    collector = start_collector(root, "latency")
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


# ------------------------------------------------------------------------------------------------ overload


def rss_of(pid: int) -> tuple[int, int]:
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024


def overload(root: Path, protocol: str, sustainable_items_per_s: float, seconds: float) -> dict[str, Any]:
    """2× the sustainable rate, open loop, no retries: memory must stay bounded, excess answered with
    429 / RESOURCE_EXHAUSTED + Retry-After; what was acknowledged must all be in the API."""
    offered = 2 * sustainable_items_per_s
    requests = pregenerate(protocol, "gateway", int(offered * seconds), 5000, seed=31)
    rate = len(requests) / seconds
    collector = start_collector(root, f"overload-{protocol.replace('/', '-')}")
    pid = collector.process.pid
    baseline = rss_of(pid)[0]
    samples: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                samples.append(rss_of(pid)[0])
            except (OSError, KeyError):
                return
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
        peak = rss_of(pid)[1]
    finally:
        stop.set()
        sampler.join()
        collector.stop()
    summary = result.summary()
    refused = {status: count for status, count in summary["answers"].items() if status not in ("OK", "200")}
    return {
        "protocol": protocol,
        "offered_items_per_s": round(offered),
        "accepted_items_per_s": summary["items_per_s"],
        "baseline_rss_mb": round(baseline / 2**20),
        "peak_rss_mb": round(max([peak, *samples]) / 2**20),
        "refused": refused,
        "refused_with_retry_after": summary["refusals_with_retry_after"],
        "latency_p99_ms": summary["latency_p99_ms"],
        "acknowledged_all_visible": matched,
    }


# ------------------------------------------------------------------------------------------------ history


def query_at_scale(root: Path, members: int, days: int, repeat: int, keep: Path | None = None) -> dict[str, Any]:
    """Generate the history (into `keep` when given, reused by the next run of the same size) and time its views."""
    directory = keep or root / "history"
    made = history.generated(directory)
    if made and (made["members"], made["days"]) != (members, days):
        raise SystemExit(f"{directory} holds {made['members']} members × {made['days']} days, not this run's size")
    if made:
        end = datetime.fromisoformat(made["end"]).date()
        seconds = made["generate_s"]
        store = history.open_store(directory)  # applies any newer migration, backfills included
    else:
        end = datetime.now(UTC).date()
        store, seconds = history.generate(directory, members, days, end)
    try:
        counts = history.counts(store)
        # time_views covers the read API and every ClickHouse dashboard panel (macros expanded).
        timings = history.time_views(store, end, repeat=repeat)
    finally:
        store.close()
    return {"members": members, "days": days, "generate_s": round(seconds, 1), "counts": counts,
            "timings": [{"name": t.name, "view_p50_ms": round(t.view_p50_ms, 1), "raw_p50_ms": round(t.raw_p50_ms, 1),
                         "ratio": round(t.ratio, 1), "rows": t.rows} for t in timings]}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller figures, under 2 minutes")
    parser.add_argument("--skip-history", action="store_true", help="skip the query-at-scale section")
    parser.add_argument("--only-e2e", action="store_true", help="decode ceiling and end-to-end ingest only")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--only-queries", action="store_true", help="the query-at-scale section only")
    parser.add_argument("--history-dir", type=Path, help="generate the history here once, reuse it on later runs")
    arguments = parser.parse_args(argv)
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
    history_size = (2_000, 28, 5) if quick else (10_000, 364, 9)  # members, days, runs per query
    if arguments.only_queries:
        with tempfile.TemporaryDirectory(prefix="cc-bench-") as temporary:
            log("query speed at scale")
            results["history"] = query_at_scale(Path(temporary), *history_size, keep=arguments.history_dir)
        if arguments.json:
            arguments.json.write_text(json.dumps(results, indent=2, default=str))
        print("\n".join(["| measurement | figure | goal | met |", "|---|---|---|---|",
                         *history_rows(results["history"])]))  # fmt: skip
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
                run_ = end_to_end(root, protocol, shape, items, seconds)
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
                results["overload"].append(overload(root, protocol, sustainable, 4 if quick else 10))
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
