"""Direct-client capacity: how many developers connected straight to one collector (no gateway in front), each on
its own connection at Claude Code's default export intervals, the collector holds with acknowledgements p99
≤ 1 s, ingest-to-visible p99 ≤ 2 s and nothing refused.

Each step is a fresh collector (queue.mode=wal, the bench's collector flags) under the load generator's
per-developer real-time mode (loadgen/direct.py: open loop, every developer's minute of exports replayed each
minute with fresh timestamps) for a fixed time, with ingest-to-visible probes (probes.py); after it, the API's
totals must equal what was acknowledged. The search doubles the developers while a step holds, then bisects
between the last step that held and the first that did not.

The load generator runs on the same cores: each step records its CPU and how late it started its sends. A step
it could not drive on time (send lag p99 over 250 ms) is marked loadgen-bound: its verdict measures the
load generator as much as the collector.
"""

from __future__ import annotations

import asyncio
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import (
    DURABLE_ENV,
    CollectorFlags,
    log,
    missing,
    process_tree,
    start_collector,
    tree_cpu_s,
    url_of,
    visible,
)
from bench.probes import Probes
from loadgen import Tally
from loadgen.direct import SPARE_FILES, run_direct
from loadgen.templates import Population

ACK_P99_GOAL_MS = 1000.0
VISIBLE_P99_GOAL_MS = 2000.0
LOADGEN_LAG_MS = 250.0
# Loopback ports a client can open to one address and port (net.ipv4.ip_local_port_range, 32768–60999).
EPHEMERAL_PORTS = 28_000


@dataclass(frozen=True)
class SearchPlan:
    start: int  # developers of the first step
    step_s: float  # each step's load
    bisections: int  # steps between the last that held and the first that did not
    granularity: int  # developers are a multiple of this
    probe_every_s: float

    @classmethod
    def of(cls, quick: bool, start: int | None = None) -> SearchPlan:
        if quick:
            return cls(start or 2_000, 20.0, 1, 500, 1.0)
        return cls(start or 2_500, 60.0, 2, 250, 1.5)


def most_developers() -> int:
    """The largest population this machine lets the load generator connect (open files, loopback ports)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    files = EPHEMERAL_PORTS if hard == resource.RLIM_INFINITY else hard - SPARE_FILES
    return min(EPHEMERAL_PORTS, files)


def connection_cap() -> dict[str, int]:
    """What the collector's own open-file limit allows per listener (collector/connections.py), per process."""
    from collector.connections import plan_connections

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    file_limit = hard if hard != resource.RLIM_INFINITY else 1 << 20
    return {"file_limit": file_limit, "per_listener": plan_connections(1_000_000, 4, file_limit).per_listener}


def step(
    root: Path, population: Population, protocol: str, developers: int, plan: SearchPlan, flags: CollectorFlags
) -> dict[str, Any]:
    templates = population.templates(developers)
    name = f"direct-{protocol.replace('/', '-')}-{developers}"
    collector = start_collector(root, name, flags.args, **DURABLE_ENV)
    assert collector.process is not None
    pid = collector.process.pid
    clock: dict[str, float] = {}
    probes = Probes(collector, protocol, tag=name)

    async def load() -> Any:
        started = asyncio.Event()

        def start_clock() -> None:
            clock["cpu"], clock["wall"] = tree_cpu_s(process_tree(pid)), time.perf_counter()
            started.set()

        result, _ = await asyncio.gather(
            run_direct(templates, developers=developers, url=url_of(collector, protocol), protocol=protocol,
                       duration_s=plan.step_s, timeout_s=10.0, label=f"{protocol:13} {developers:>6}",
                       on_start=start_clock),
            probes.run(plan.step_s, plan.probe_every_s, first_after_s=2.0, started=started),
        )  # fmt: skip
        return result

    try:
        result = asyncio.run(load())
        collector_cores = (tree_cpu_s(process_tree(pid)) - clock["cpu"]) / (time.perf_counter() - clock["wall"])
        # A tenth of the developers sign in with an API key and carry no organization: the whole store's
        # totals are compared, the probes' included.
        expected = Tally()
        expected.add(result.accepted)
        expected.add(probes.accepted)
        matched, waited, totals = visible(collector, expected, timeout_s=60)
    finally:
        collector.stop()
    summary = result.summary()
    visible_ = probes.summary()
    refused = {status: count for status, count in summary["answers"].items() if status not in ("OK", "200")}
    reasons = []
    if refused or summary["requests_failed"]:
        reasons.append(f"refused {sum(refused.values())} ({', '.join(f'{k} {v}' for k, v in refused.items())})"
                       + (f", {summary['requests_failed']} not acknowledged" if summary["requests_failed"] else ""))  # fmt: skip
    if not summary["ack_p99_ms"] <= ACK_P99_GOAL_MS:
        reasons.append(f"ack p99 {summary['ack_p99_ms']:.0f} ms")
    if visible_["seen"] < visible_["probes"] or not visible_["p99_ms"] <= VISIBLE_P99_GOAL_MS:
        reasons.append(f"visible p99 {visible_['p99_ms']:.0f} ms ({visible_['seen']}/{visible_['probes']} probes seen)")
    # Acknowledged minus the API's figures, 60 s after the load: positive is short of what was acknowledged (lost,
    # or still draining); negative is more, from requests the client gave up on that the collector took.
    gaps = {} if matched else missing(totals, expected)
    if gaps:
        reasons.append(
            "API totals differ from the acknowledged by " + ", ".join(f"{k} {v:+g}" for k, v in gaps.items())
        )
    record = {
        "developers": developers,
        "seconds": plan.step_s,
        "requests_per_s": summary["requests_per_s"],
        "items_per_s": summary["items_per_s"],
        "ack_p50_ms": summary["ack_p50_ms"],
        "ack_p99_ms": summary["ack_p99_ms"],
        "send_lag_p99_ms": summary["send_lag_p99_ms"],
        "connections_opened": summary["connections_opened"],
        "refused": refused,
        "failed": summary["requests_failed"],
        "visible": visible_,
        "loadgen_cores": summary["loadgen_cores"],
        "collector_cores": round(collector_cores, 2),
        "api_totals_match": matched,
        "acknowledged_minus_api": gaps,
        "visible_after_s": round(waited, 2),
        "held": not reasons,
        "reasons": reasons,
        "loadgen_bound": summary["send_lag_p99_ms"] > LOADGEN_LAG_MS,
    }
    log(f"direct {protocol} {developers:,} developers: {record['requests_per_s']:,.0f} req/s, ack p99 "
        f"{record['ack_p99_ms']:.0f} ms, visible p99 {visible_['p99_ms']:.0f} ms ({visible_['seen']}/"
        f"{visible_['probes']}), refused {sum(refused.values())}, loadgen {record['loadgen_cores']:.2f} cores (send lag "
        f"p99 {record['send_lag_p99_ms']:.0f} ms), collector {record['collector_cores']:.2f} cores, API totals "
        f"{'match' if matched else 'DIFFER'} → {'held' if record['held'] else 'not held: ' + '; '.join(reasons)}")  # fmt: skip
    return record


def search_of(results: dict[str, Any], protocol: str) -> dict[str, Any] | None:
    """The capacity search of `protocol` among a run's results, if it ran."""
    return next((search for search in results.get("direct", []) if search["protocol"] == protocol), None)


def capacity(
    root: Path, population: Population, protocol: str, plan: SearchPlan, flags: CollectorFlags
) -> dict[str, Any]:
    """Double from `plan.start` while steps hold (up to what the machine can connect), then bisect."""
    ceiling = most_developers()
    steps: list[dict[str, Any]] = []
    held, failed = 0, 0
    developers = min(plan.start, ceiling)
    while True:
        steps.append(step(root, population, protocol, developers, plan, flags))
        if not steps[-1]["held"]:
            failed = developers
            break
        held = developers
        if developers >= ceiling:
            break
        developers = min(developers * 2, ceiling)
    for _ in range(plan.bisections if failed else 0):
        middle = round((held + failed) / 2 / plan.granularity) * plan.granularity
        if middle <= held or middle >= failed:
            break
        steps.append(step(root, population, protocol, middle, plan, flags))
        if steps[-1]["held"]:
            held = middle
        else:
            failed = middle
    best = next((s for s in steps if s["developers"] == held and s["held"]), None)
    first_failed = next((s for s in steps if s["developers"] == failed), None)
    return {"protocol": protocol, "collector": flags.label(), "developers": held, "held_step": best,
            "failed_step": first_failed, "machine_ceiling": ceiling, "steps": steps, **connection_cap()}  # fmt: skip
