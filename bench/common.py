"""What every section of `make bench` shares: progress lines, pre-generated traffic, collectors (with flags), the
API check that acknowledged traffic is all there, and the memory and CPU of a collector's processes."""

from __future__ import annotations

import math
import os
import re
import shlex
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from loadgen import Request, Tally, Workload
from tests.support.collector import CollectorProcess

# The options the durable-queue sections set: the queue itself, and room for one connection per developer
# (limits.max_connections is clamped by the collector to what its open-file limit holds, and says so).
DURABLE_ENV = {"CC_ANALYTICS_QUEUE_MODE": "wal", "CC_ANALYTICS_LIMITS_MAX_CONNECTIONS": "1000000"}
# The rows that measure an answer given once the store has the request (one process): queue.mode=memory, named,
# since the default (auto) is the durable queue on the embedded store.
MEMORY_ENV = {"CC_ANALYTICS_QUEUE_MODE": "memory"}


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


# ------------------------------------------------------------------------------------------------ collectors


@dataclass(frozen=True)
class CollectorFlags:
    """Flags for the collectors of the durable-queue sections (`--collector-flags`), e.g. `--workers 2`."""

    text: str = ""

    @property
    def args(self) -> list[str]:
        return shlex.split(self.text)

    def workers(self) -> int | None:
        """Receiver processes the collector runs: the --workers flag, else the option's default (the machine's
        cores); None while the collector has no such option."""
        from collector.config import OPTIONS

        option = next((option for option in OPTIONS if option.path == "workers"), None)
        if option is None:
            return None
        match = re.search(r"--workers[= ](\d+)", self.text)
        if match:
            return int(match.group(1))
        value = os.environ.get(option.env) or option.default
        return int(value) if str(value).isdigit() and int(value) > 0 else (os.cpu_count() or 1)

    def label(self) -> str:
        """How the row's collector ran, e.g. `queue.mode=wal, workers 2`."""
        parts = ["queue.mode=wal"]
        workers = self.workers()
        if workers:
            parts.append(f"workers {workers}")
        others = re.sub(r"--workers[= ]\d+", "", self.text).strip()
        if others:
            parts.append(others)
        return ", ".join(parts)


def start_collector(root: Path, name: str, flags: list[str] | None = None, **env: str) -> CollectorProcess:
    return CollectorProcess(data_dir=root / name, extra_env=dict(env), extra_args=list(flags or [])).start()


def url_of(collector: CollectorProcess, protocol: str) -> str:
    return collector.otlp_grpc_url if protocol == "grpc" else collector.otlp_http_url


def totals_equal(totals: dict, expected: Tally) -> bool:
    want = expected.figures()
    return all(totals[key] == want[key] for key in ("accepted_lines", "removed_lines", "accepts", "rejects",
                                                      "active_users", "sessions")) and math.isclose(
        totals["spend_usd"], expected.spend_usd, rel_tol=1e-9, abs_tol=1e-6
    )  # fmt: skip


def visible(
    collector: CollectorProcess, expected: Tally, timeout_s: float = 60.0, org: str | None = None
) -> tuple[bool, float, dict]:
    """Poll the API (one organization's figures when `org` is given) until its totals equal `expected`;
    (matched, seconds waited, totals). Every 20 ms at first, then less often (up to every 250 ms): an analytics
    read costs the collector ~30–45 ms of CPU, so asking 50 times a second while a backlog drains would take
    a core from the very drain being timed; the wait is over-stated by at most the last interval."""
    today = datetime.now(UTC).date()
    began = time.perf_counter()
    totals: dict = {}
    params = {"org": org} if org else {}
    interval_s = 0.02
    while time.perf_counter() - began < timeout_s:
        try:
            totals = collector.analytics(today - timedelta(days=1), today + timedelta(days=1), **params)["totals"]
        except httpx.HTTPError:  # the store may be away (an outage) or busy: ask again
            time.sleep(0.5)
            continue
        if totals_equal(totals, expected):
            return True, time.perf_counter() - began, totals
        time.sleep(interval_s)
        interval_s = min(interval_s * 1.5, 0.25)
    return False, time.perf_counter() - began, totals


def missing(totals: dict, expected: Tally) -> dict[str, float]:
    """Figure → acknowledged minus what the API shows (positive: lost), for the figures that differ."""
    want = expected.figures()
    gaps = {key: want[key] - totals.get(key, 0) for key in ("accepted_lines", "removed_lines", "accepts", "rejects",
                                                             "active_users", "sessions")}  # fmt: skip
    gaps["spend_usd"] = round(expected.spend_usd - totals.get("spend_usd", 0.0), 6)
    return {key: value for key, value in gaps.items() if value}


# ------------------------------------------------------------------------------------------------ processes


def _status_bytes(pid: int, *names: str) -> list[int]:
    """The named memory fields of /proc/<pid>/status (kB there), in bytes."""
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return [int(fields[name].split()[0]) * 1024 for name in names]


def rss_of(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of one process, in bytes."""
    rss, high_water_mark = _status_bytes(pid, "VmRSS", "VmHWM")
    return rss, high_water_mark


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (a collector with --workers starts its receiver processes as children)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, ()))
    return tree


@dataclass(frozen=True, slots=True)
class Resident:
    """A process's resident memory now, in bytes: all of it (RSS), and its anonymous part (RssAnon: its heaps,
    what it allocated), the rest being pages of the files it maps, such as the engine's library."""

    rss: int = 0
    anonymous: int = 0


def resident(pid: int) -> Resident:
    """`pid`'s resident memory now; zeros once it is gone."""
    try:
        rss, anonymous = _status_bytes(pid, "VmRSS", "RssAnon")
    except (OSError, KeyError):
        return Resident()
    return Resident(rss, anonymous)


def tree_cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds used so far by `pids`."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / ticks


def metric_value(collector: CollectorProcess, name: str) -> float | None:
    """The value of an unlabelled self-metric on the collector's /metrics, None when absent or unreachable."""
    try:
        text = httpx.get(collector.metrics_url, timeout=5).text
    except httpx.HTTPError:
        return None
    match = re.search(rf"^{re.escape(name)}(?:{{[^}}]*}})? (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None
