"""How many cores the collector may use: the number of receiver processes `workers: auto` starts.

`os.cpu_count()` counts the machine's cores, so a container limited to 2 CPUs on a 64-core node would start 64
receiver processes, each with its own memory, that its CPU quota then throttles. The count here is the smallest
of the cores this process may run on (its CPU affinity: `taskset`, a cpuset) and its cgroup's CPU quota rounded
up (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`: what a container's CPU limit sets), as
the JVM and Go's automaxprocs read it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path, PurePosixPath


def available_cores(root: Path = Path("/"), affinity: int | None = None) -> int:
    """`root` is where the host's /proc and /sys are (another directory only in tests); `affinity` the count of
    cores this process may run on (read from the process when None)."""
    cores = affinity if affinity is not None else _affinity()
    limit = cgroup_cpu_limit(root)
    if limit is not None:
        cores = min(cores, math.ceil(limit))
    return max(1, cores)


def _affinity() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1  # pragma: no cover - platforms without affinity (macOS)


def cgroup_cpu_limit(root: Path = Path("/")) -> float | None:
    """The CPU quota of this process's cgroup and of every cgroup above it, the smallest, in cores; None when
    none is set (or the process is in no cgroup with a CPU controller: not Linux, or no cgroup mounted)."""
    try:
        memberships = (root / "proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    limits: list[float] = []
    for line in memberships:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # cgroup v2: "0::/path"
            limits += _limits(root / "sys/fs/cgroup", path, _v2_limit)
        elif "cpu" in controllers.split(","):  # cgroup v1: "4:cpu,cpuacct:/path"
            for mount in ("sys/fs/cgroup/cpu", "sys/fs/cgroup/cpu,cpuacct", "sys/fs/cgroup/cpuacct,cpu"):
                limits += _limits(root / mount, path, _v1_limit)
    return min(limits) if limits else None


def _limits(mount: Path, path: str, read: Callable[[Path], float | None]) -> list[float]:
    """The limits read in `mount` at the cgroup's own directory and each one above it. Inside a container the
    membership may name the host's path while the mount's root is the container's own cgroup: paths that do
    not exist are skipped, the root is always read."""
    found: list[float] = []
    directory = PurePosixPath(path)
    for ancestor in (directory, *directory.parents):
        limit = read(mount / str(ancestor).lstrip("/"))
        if limit is not None:
            found.append(limit)
    return found


def _v2_limit(directory: Path) -> float | None:
    """cpu.max: "max 100000" (no limit) or "<quota> <period>" in microseconds."""
    try:
        quota, period = (directory / "cpu.max").read_text().split()
    except (OSError, ValueError):
        return None
    if quota == "max" or int(period) <= 0:
        return None
    return int(quota) / int(period)


def _v1_limit(directory: Path) -> float | None:
    """cpu.cfs_quota_us (-1: no limit) over cpu.cfs_period_us."""
    try:
        quota = int((directory / "cpu.cfs_quota_us").read_text())
        period = int((directory / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    if quota <= 0 or period <= 0:
        return None
    return quota / period
