"""`workers: auto` starts one receiver process per core the collector may use: its CPU affinity, at most its
cgroup's CPU quota (a container's CPU limit), read from the files Linux shows (collector/cores.py)."""

from __future__ import annotations

from pathlib import Path

from collector.cores import available_cores, cgroup_cpu_limit


def _write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_v2_container_limited_to_two_cpus_on_a_64_core_node_gets_two(tmp_path: Path) -> None:
    # Inside the container's cgroup namespace its own cgroup is the mount's root.
    _write(tmp_path, "proc/self/cgroup", "0::/\n")
    _write(tmp_path, "sys/fs/cgroup/cpu.max", "200000 100000\n")
    assert cgroup_cpu_limit(tmp_path) == 2.0
    assert available_cores(tmp_path, affinity=64) == 2


def test_a_fractional_quota_is_rounded_up_and_never_below_one(tmp_path: Path) -> None:
    _write(tmp_path, "proc/self/cgroup", "0::/\n")
    _write(tmp_path, "sys/fs/cgroup/cpu.max", "150000 100000\n")
    assert available_cores(tmp_path, affinity=64) == 2
    _write(tmp_path, "sys/fs/cgroup/cpu.max", "10000 100000\n")
    assert available_cores(tmp_path, affinity=64) == 1


def test_the_smallest_quota_of_the_cgroup_and_those_above_it_counts(tmp_path: Path) -> None:
    # A systemd slice limited to 3 CPUs above a service limited to 6: the slice's 3 bind.
    _write(tmp_path, "proc/self/cgroup", "0::/collector.slice/cc-analytics.service\n")
    _write(tmp_path, "sys/fs/cgroup/cpu.max", "max 100000\n")
    _write(tmp_path, "sys/fs/cgroup/collector.slice/cpu.max", "300000 100000\n")
    _write(tmp_path, "sys/fs/cgroup/collector.slice/cc-analytics.service/cpu.max", "600000 100000\n")
    assert available_cores(tmp_path, affinity=16) == 3


def test_no_quota_leaves_the_affinity(tmp_path: Path) -> None:
    _write(tmp_path, "proc/self/cgroup", "0::/user.slice\n")
    _write(tmp_path, "sys/fs/cgroup/cpu.max", "max 100000\n")
    assert cgroup_cpu_limit(tmp_path) is None
    assert available_cores(tmp_path, affinity=4) == 4
    # Fewer cores allowed than the quota: the affinity binds (taskset -c 0 under a 4-CPU limit).
    _write(tmp_path, "sys/fs/cgroup/cpu.max", "400000 100000\n")
    assert available_cores(tmp_path, affinity=1) == 1


def test_cgroup_v1_quota_under_the_hosts_path(tmp_path: Path) -> None:
    # Docker on cgroup v1: the membership names the host's path, the mount's root is the container's cgroup.
    _write(tmp_path, "proc/self/cgroup", "5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n")
    _write(tmp_path, "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "250000\n")
    _write(tmp_path, "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n")
    assert cgroup_cpu_limit(tmp_path) == 2.5
    assert available_cores(tmp_path, affinity=32) == 3
    _write(tmp_path, "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n")
    assert available_cores(tmp_path, affinity=32) == 32


def test_no_cgroup_files_leave_the_affinity(tmp_path: Path) -> None:
    assert cgroup_cpu_limit(tmp_path) is None
    assert available_cores(tmp_path, affinity=8) == 8
