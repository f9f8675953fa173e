"""`workers: auto` starts one receiver process per core the collector may use: its CPU affinity, at most its
cgroup's CPU quota (a container's CPU limit), read from the files Linux shows (collector/cores.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.cores import available_cores, cgroup_cpu_limit

V2_ROOT = "sys/fs/cgroup/cpu.max"
V1_QUOTA, V1_PERIOD = "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us"
SLICE = "0::/collector.slice/cc-analytics.service\n"
# Docker on cgroup v1: the membership names the host's path, the mount's root is the container's cgroup.
DOCKER_V1 = "5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n"

# case: (/proc/self/cgroup or None for no such file, the cgroup files, the affinity, the limit read, the cores)
CASES: dict[str, tuple[str | None, dict[str, str], int, float | None, int]] = {
    # Inside the container's cgroup namespace its own cgroup is the mount's root.
    "v2 container limited to 2 CPUs on a 64-core node": ("0::/\n", {V2_ROOT: "200000 100000"}, 64, 2.0, 2),
    "a fractional quota rounded up": ("0::/\n", {V2_ROOT: "150000 100000"}, 64, 1.5, 2),
    "a tenth of a CPU is still one": ("0::/\n", {V2_ROOT: "10000 100000"}, 64, 0.1, 1),
    # A systemd slice limited to 3 CPUs above a service limited to 6: the slice's 3 bind.
    "the smallest quota of the cgroup and those above it": (
        SLICE,
        {
            V2_ROOT: "max 100000",
            "sys/fs/cgroup/collector.slice/cpu.max": "300000 100000",
            "sys/fs/cgroup/collector.slice/cc-analytics.service/cpu.max": "600000 100000",
        },
        16,
        3.0,
        3,
    ),  # fmt: skip
    "no quota leaves the affinity": ("0::/user.slice\n", {V2_ROOT: "max 100000"}, 4, None, 4),
    # taskset -c 0 under a 4-CPU limit.
    "fewer cores allowed than the quota": ("0::/user.slice\n", {V2_ROOT: "400000 100000"}, 1, 4.0, 1),
    "v1 quota under the host's path": (DOCKER_V1, {V1_QUOTA: "250000", V1_PERIOD: "100000"}, 32, 2.5, 3),
    "v1 without a quota": (DOCKER_V1, {V1_QUOTA: "-1", V1_PERIOD: "100000"}, 32, None, 32),
    "no cgroup files at all": (None, {}, 8, None, 8),
}


@pytest.mark.parametrize("case", list(CASES))
def test_cores_from_the_affinity_and_the_cgroup_quota(tmp_path: Path, case: str) -> None:
    membership, files, affinity, limit, cores = CASES[case]
    written = {"proc/self/cgroup": membership, **files} if membership is not None else files
    for relative, text in written.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + ("" if text.endswith("\n") else "\n"))
    assert cgroup_cpu_limit(tmp_path) == limit
    assert available_cores(tmp_path, affinity=affinity) == cores
