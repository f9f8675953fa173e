"""deploy/docker: the Dockerfile's shape, its build context filter, and its install steps and entrypoint run for real."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import pytest

from tests.deploy.common import DEPLOY, REPO, Stage, parse_dockerfile
from tests.support.collector import free_port

DOCKERIGNORE = DEPLOY / "docker" / "Dockerfile.dockerignore"
DATA_DIR = "/var/lib/cc-analytics"
PORTS = {"4317", "4318", "8080", "9464"}


def stages() -> list[Stage]:
    return parse_dockerfile()[1]


def runtime() -> Stage:
    return stages()[-1]


def build() -> Stage:
    return stages()[0]


def test_multi_stage_on_slim_python_311() -> None:
    all_stages = stages()
    assert len(all_stages) >= 2, "build and runtime stages"
    for stage in all_stages:
        assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", stage.base), stage.base
    # The runtime stage takes the built virtualenv, not the build tools.
    copies = [c.arguments for c in runtime().all("COPY")]
    assert any(c.startswith(f"--from={build().name} ") for c in copies), copies
    assert not runtime().all("RUN") or all("pip install" not in r.arguments for r in runtime().all("RUN"))


def test_runs_as_a_non_root_user() -> None:
    user = runtime().last("USER")
    assert user is not None, "USER missing: the image would run as root"
    name = runtime().expand(user.arguments).split(":")[0]
    assert name not in ("root", "0", ""), name
    assert runtime().instructions.index(user) > max(runtime().instructions.index(r) for r in runtime().all("RUN")), (
        "USER must come after the RUN lines that need root"
    )


def test_configuration_by_environment_binds_all_interfaces_and_uses_the_volume() -> None:
    environment = runtime().env()
    assert environment["CC_ANALYTICS_BIND"] == "0.0.0.0", "inside a container 127.0.0.1 is unreachable"
    assert environment["CC_ANALYTICS_DATA_DIR"] == DATA_DIR
    volumes = " ".join(v.arguments for v in runtime().all("VOLUME"))
    assert DATA_DIR in volumes
    exposed = set(" ".join(e.arguments for e in runtime().all("EXPOSE")).split())
    assert exposed == PORTS


def test_healthcheck_asks_healthz_on_the_api_port() -> None:
    healthcheck = runtime().last("HEALTHCHECK")
    assert healthcheck is not None
    assert "/healthz" in healthcheck.arguments and "8080" in healthcheck.arguments


def test_entrypoint_is_the_collector_in_exec_form() -> None:
    entrypoint = runtime().last("ENTRYPOINT")
    command = runtime().last("CMD")
    assert entrypoint is not None and command is not None
    # Exec form: the collector is PID 1 and receives SIGTERM for a graceful stop.
    assert entrypoint.json_form() == ["cc-analytics"]
    assert command.json_form() == ["run"]


def test_build_copies_every_package_pip_installs() -> None:
    """A package missing from the COPY lines would install an image that cannot import it."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = {Path(shlex.split(c.arguments)[0]).name for c in build().all("COPY") if not c.arguments.startswith("--")}
    sources = {word for c in build().all("COPY") for word in shlex.split(c.arguments)[:-1]}
    assert packages <= copied, f"not copied into the build stage: {packages - copied}"
    assert {"pyproject.toml", project["project"]["readme"]} <= sources


def ignore_patterns() -> list[str]:
    return [line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")]


def ignored(relative: str, patterns: list[str]) -> bool:
    """Docker's rule for these patterns: `x` matches at the root, `**/x` at any depth; a match covers a folder."""
    parts = relative.split("/")
    for pattern in patterns:
        anywhere = pattern.startswith("**/")
        bare = pattern.removeprefix("**/")
        for depth in range(len(parts)):
            if not anywhere and depth:
                break
            if fnmatch.fnmatchcase("/".join(parts[depth:]), bare) or fnmatch.fnmatchcase(
                "/".join(parts[depth : depth + bare.count("/") + 1]), bare
            ):
                return True
    return False


def test_build_context_leaves_local_state_out() -> None:
    patterns = ignore_patterns()
    for local in (".venv", "data", ".cache", "test-output", ".git", "console/__pycache__/x.pyc", "deploy/compose/.env"):
        assert ignored(local, patterns), f"{local} would be sent to the image build"
    for needed in (
        "pyproject.toml",
        "README.md",
        "collector/cli.py",
        "console/static/index.html",
        "deploy/docker/install.sh",
    ):
        assert not ignored(needed, patterns), f"{needed} is needed by the build"


# --- the install steps and the entrypoint, for real ------------------------------------------------------------


def copy_into(rootfs: Path, workdir: str, sources: list[str], destination: str, patterns: list[str]) -> None:
    """COPY sources… destination, relative to the repository (the build context) and the stage's WORKDIR."""
    target = Path(destination if destination.startswith("/") else f"{workdir}/{destination}")
    target = rootfs / target.relative_to("/")
    for source in sources:
        origin = REPO / source
        if origin.is_dir():

            def skip(folder: str, names: list[str], origin: Path = origin) -> set[str]:
                base = Path(folder).relative_to(REPO)
                return {n for n in names if ignored(str(base / n), patterns)}

            shutil.copytree(origin, target, ignore=skip, dirs_exist_ok=True)
        elif destination.endswith("/"):
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target / origin.name)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target)


def replay_build_stage(rootfs: Path) -> Path:
    """Runs the build stage's COPY and RUN lines with the container's paths under rootfs; returns the venv."""
    stage = build()
    patterns = ignore_patterns()
    workdir = "/"
    environment = {**os.environ, **stage.env()}
    # The pip cache only saves downloads; what gets installed is the same.
    environment.pop("PIP_NO_CACHE_DIR", None)
    environment["PYTHON"] = sys._base_executable
    for instruction in stage.instructions:
        if instruction.keyword == "WORKDIR":
            workdir = instruction.arguments
            (rootfs / workdir.lstrip("/")).mkdir(parents=True, exist_ok=True)
        elif instruction.keyword == "COPY":
            words = shlex.split(instruction.arguments)
            copy_into(rootfs, workdir, words[:-1], words[-1], patterns)
        elif instruction.keyword == "RUN":
            words = [
                str(rootfs / w.lstrip("/")) if w.startswith("/") else w for w in shlex.split(instruction.arguments)
            ]
            result = subprocess.run(
                words, cwd=rootfs / workdir.lstrip("/"), env=environment, capture_output=True, text=True, timeout=900
            )
            assert result.returncode == 0, (
                f"RUN {instruction.arguments} failed:\n{result.stdout}\n{result.stderr[-4000:]}"
            )
    copied = [c for c in runtime().all("COPY") if c.arguments.startswith("--from=")]
    assert len(copied) == 1, "the runtime stage copies the one virtualenv"
    return rootfs / shlex.split(copied[0].arguments)[1].lstrip("/")


def container_environment(venv: Path, data_dir: Path, ports: dict[str, int]) -> dict[str, str]:
    """The image's ENV with its virtualenv at `venv`, then what a test on a shared machine must change."""
    environment = runtime().env({"PATH": os.environ["PATH"]})
    environment = {key: value.replace("/opt/cc-analytics", str(venv)) for key, value in environment.items()}
    environment["CC_ANALYTICS_DATA_DIR"] = str(data_dir)
    environment["HOME"] = str(data_dir)
    environment["CC_ANALYTICS_BIND"] = "127.0.0.1"
    environment.update({key: str(port) for key, port in ports.items()})
    return environment


def wait_ready(url: str, process: subprocess.Popen, seconds: float = 90) -> httpx.Response:
    deadline = time.monotonic() + seconds
    last: httpx.Response | None = None
    while time.monotonic() < deadline:
        assert process.poll() is None, "the entrypoint exited"
        try:
            last = httpx.get(url, timeout=2)
            if last.status_code == 200:
                return last
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} not ready in {seconds} s (last answer: {last and last.status_code})")


@pytest.mark.image_install
def test_install_steps_and_entrypoint_start_a_ready_collector(tmp_path: Path) -> None:
    """The build stage's steps install the project into a fresh venv; the image's ENTRYPOINT + CMD, with the
    image's ENV, start from it and answer /readyz 200; the HEALTHCHECK command passes; SIGTERM stops it."""
    venv = replay_build_stage(tmp_path / "rootfs")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    ports = {
        "CC_ANALYTICS_OTLP_GRPC_PORT": free_port(),
        "CC_ANALYTICS_OTLP_HTTP_PORT": free_port(),
        "CC_ANALYTICS_API_PORT": free_port(),
        "CC_ANALYTICS_METRICS_PORT": free_port(),
    }
    environment = container_environment(venv, data_dir, ports)
    command = runtime().last("ENTRYPOINT").json_form() + runtime().last("CMD").json_form()
    executable = shutil.which(command[0], path=environment["PATH"])
    assert executable == str(venv / "bin" / command[0]), f"{command[0]} resolves to {executable}, not the venv's"
    log = (tmp_path / "collector.log").open("w")
    process = subprocess.Popen([executable, *command[1:]], cwd=data_dir, env=environment, stdout=log, stderr=log)
    try:
        api = f"http://127.0.0.1:{ports['CC_ANALYTICS_API_PORT']}"
        assert wait_ready(f"{api}/readyz", process).status_code == 200
        healthcheck = runtime().last("HEALTHCHECK").arguments.partition("CMD")[2].strip()
        probe = subprocess.run(json.loads(healthcheck), env=environment, capture_output=True, text=True, timeout=10)
        assert probe.returncode == 0, f"HEALTHCHECK failed: {probe.stderr}"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, "a SIGTERM stop should be clean"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
    assert (data_dir / "chdb").is_dir(), "the embedded store lives in CC_ANALYTICS_DATA_DIR"
