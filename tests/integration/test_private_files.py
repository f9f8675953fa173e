"""Nothing private is readable by other local users: the collector creates its data directory 0700 and every
file under it 0600 (the store's files, the access file, the journals), and warns at start when an existing
data directory is open to others. Against the real collector and the embedded store."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import otlp_raw as otlp
from tests.support.collector import CollectorProcess


def _open_to_others(root: Path) -> list[str]:
    """Directories and regular files under `root` (itself included) with any group or other permission."""
    loose = []
    for path in [root, *root.rglob("*")]:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            continue  # a symlink's own bits mean nothing; its target is checked in its own right
        if stat.S_IMODE(info.st_mode) & 0o077:
            loose.append(f"{oct(stat.S_IMODE(info.st_mode))} {path.relative_to(root)}")
    return loose


def test_data_directory_and_files_are_the_owners_alone(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "data"  # neither it nor its parent exists: the collector creates both
    process = CollectorProcess(data_dir=tmp_path / "harness", extra_env={"CC_ANALYTICS_DATA_DIR": str(data_dir)})
    process.start()
    try:
        org = "org-private-files"
        otlp.send(process, "http/json", otlp.edit_request(org, lines=4, cost=0.25))
        otlp.send(process, "http/json", otlp.logs_request(org, ["user_prompt", "api_request"]), signal="logs")
    finally:
        assert process.stop() == 0
    files = [path for path in data_dir.rglob("*") if path.is_file() and not path.is_symlink()]
    assert (data_dir / "access.yaml") in files and any("chdb" in path.parts for path in files)
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert _open_to_others(data_dir) == []
    assert "data_dir.permissions" not in process.log()


def test_a_data_directory_open_to_others_is_reported(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    os.chmod(data_dir, 0o755)
    process = CollectorProcess(data_dir=data_dir).start()
    try:
        warnings = [json.loads(line) for line in process.log().splitlines() if '"data_dir.permissions"' in line]
    finally:
        process.kill()
    assert len(warnings) == 1
    assert warnings[0]["level"] == "warning" and warnings[0]["mode"] == "0o755"
    assert warnings[0]["data_dir"] == str(data_dir)
    # Left as the operator made it: the collector says so rather than changing it.
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o755


@pytest.fixture(autouse=True)
def _usual_umask() -> Iterator[None]:
    # The harness and the tests write with the common 022; only the collector makes its files private.
    previous = os.umask(0o022)
    yield
    os.umask(previous)
