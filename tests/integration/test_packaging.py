"""A regular (non-editable) `pip install .` works on its own: nothing is imported from the source tree.

The wheel is built from a copy of the working tree's files (those git tracks or would track) and installed into
a fresh virtualenv in a temporary directory with `pip install --no-deps --no-build-isolation`: nothing is
downloaded. The dependencies are not installed again (chDB alone is ~500 MB): a `.pth` file in the fresh
virtualenv appends this project's `.venv` site-packages to its path, after its own, so pip, setuptools (the
test extras pin the version pyproject.toml's build-system needs) and the third-party packages come from there,
while every module of the product comes from the wheel just installed (a `.pth` path line does not run that
directory's own `.pth` files, so `.venv`'s editable-install hook stays off). Every command runs from a working
directory outside the repository.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _tree_copy(destination: Path) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO_ROOT / name
        if source.is_file():  # a file deleted in the working tree but still in the index is not there
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    return destination


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def test_a_regular_install_runs_the_cli_the_access_commands_and_the_load_generator(tmp_path: Path) -> None:
    source = _tree_copy(tmp_path / "source")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site_packages = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    (site_packages / "dependencies-from-the-project-venv.pth").write_text(sysconfig.get_path("purelib") + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "CC_ANALYTICS_"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    python = str(venv / "bin" / "python")

    _run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", str(source)], elsewhere, env)

    imported = "import collector, loadgen; print(collector.__file__); print(loadgen.__file__)"
    where = _run([python, "-c", imported], elsewhere, env).stdout.split()
    assert len(where) == 2 and all(Path(path).is_relative_to(site_packages) for path in where), where
    assert "usage: cc-analytics" in _run(["cc-analytics", "--help"], elsewhere, env).stdout
    data_dir = tmp_path / "data"
    add = ["cc-analytics", "access", "add", "alice@example.com", "--role", "admin", "--data-dir", str(data_dir)]
    assert "added alice@example.com (Admin)" in _run(add, elsewhere, env).stdout
    listing = _run(["cc-analytics", "access", "list", "--data-dir", str(data_dir)], elsewhere, env).stdout
    principals = [line.split() for line in listing.splitlines()[1:]]  # id, role, created, name
    assert [(fields[1], fields[-1]) for fields in principals] == [("Admin", "alice@example.com")]
    load_generators = (["cc-analytics", "loadgen"], ["cc-analytics-loadgen"], [python, "-m", "loadgen"])
    for command in load_generators:
        assert "usage: cc-analytics loadgen" in _run([*command, "--help"], elsewhere, env).stdout
