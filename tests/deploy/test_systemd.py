"""deploy/systemd: the unit parses cleanly (systemd-analyze verify) and carries the hardening it promises."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from collector.config import OPTIONS
from tests.deploy.common import DEPLOY, REPO

UNIT = DEPLOY / "systemd" / "cc-analytics.service"
ENV_EXAMPLE = DEPLOY / "systemd" / "env.example"
INSTALLED = "/opt/cc-analytics/bin/cc-analytics"


def unit() -> dict[str, dict[str, list[str]]]:
    """Section → key → every value (systemd keys may repeat)."""

    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        assert current is not None, f"{line!r} outside a section"
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def service() -> dict[str, list[str]]:
    return unit()["Service"]


def test_runs_as_its_own_user_with_a_state_directory() -> None:
    keys = service()
    assert keys.get("DynamicUser") == ["yes"] or keys.get("User", ["root"])[0] not in ("root", "0")
    assert keys["StateDirectory"] == ["cc-analytics"]
    assert "CC_ANALYTICS_DATA_DIR=/var/lib/cc-analytics" in keys["Environment"]
    assert keys["ExecStart"][0].split()[0] == INSTALLED


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("NoNewPrivileges", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("RestrictSUIDSGID", "yes"),
        ("CapabilityBoundingSet", ""),
    ],
)
def test_hardening(key: str, value: str) -> None:
    assert service().get(key) == [value], f"{key}={value} expected, found {service().get(key)}"


def test_environment_file_and_file_limit() -> None:
    keys = service()
    assert keys["EnvironmentFile"] == ["-/etc/cc-analytics/env"]
    assert int(keys["LimitNOFILE"][0]) >= 65536
    assert unit()["Install"]["WantedBy"] == ["multi-user.target"]


def test_env_example_sets_only_collector_options() -> None:
    known = {option.env for option in OPTIONS}
    for line in ENV_EXAMPLE.read_text().splitlines():
        text = line.lstrip("# ").strip()
        if text.startswith("CC_ANALYTICS_") and "=" in text:
            assert text.partition("=")[0] in known, f"{text}: not an option of the collector"


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    """systemd's own parser: no warning, no error. ExecStart must exist to verify, so the copy verified runs the
    repository's cc-analytics in place of /opt/cc-analytics (the only change)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed; the keys are checked by the tests above")
    executable = REPO / ".venv" / "bin" / "cc-analytics"
    if not executable.exists():
        executable = Path(shutil.which("cc-analytics") or "")
    assert executable.is_file(), "cc-analytics is not installed in this environment"
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text().replace(INSTALLED, str(executable)))
    result = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and not output, f"systemd-analyze verify:\n{output}"
