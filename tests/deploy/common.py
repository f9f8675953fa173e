"""Shared helpers of the deploy tests: paths, required tools, the Dockerfile reader, kustomize rendering."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "compose"
KUBERNETES = DEPLOY / "kubernetes"
OVERLAYS = ("embedded", "clickhouse")
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
RULES = REPO / "dashboards" / "prometheus" / "rules.yml"
DASHBOARDS = REPO / "dashboards" / "grafana" / "dashboards"


def require_tool(name: str, hint: str) -> str:
    """The tool's path; skip when absent, but fail under CC_ANALYTICS_REQUIRE_E2E=1 (CI installs them all)."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed ({hint})"
    if os.environ.get("CC_ANALYTICS_REQUIRE_E2E") == "1":
        pytest.fail(message + "; CC_ANALYTICS_REQUIRE_E2E=1 requires it")
    pytest.skip(message)


def kubectl() -> str:
    return require_tool("kubectl", "kubectl kustomize renders the overlays; .ci/run expects it at /usr/bin/kubectl")


def render_overlay(overlay: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(KUBERNETES / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"kubectl kustomize {overlay} failed:\n{result.stderr}"
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def by_kind(documents: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [document for document in documents if document["kind"] == kind]


def one(documents: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in by_kind(documents, kind) if name is None or d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {[d['metadata']['name'] for d in found]}"
    return found[0]


def read_by_rules(job: str) -> bool:
    """Whether dashboards/prometheus/rules.yml reads metrics of this Prometheus job."""
    return f'job="{job}"' in RULES.read_text()


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


# --- Dockerfile -------------------------------------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY, ENV, …
    arguments: str  # the rest of the logical line, continuations joined

    def json_form(self) -> list[str] | None:
        """The exec (JSON array) form of CMD, ENTRYPOINT and RUN, or None for the shell form."""
        text = self.arguments.strip()
        if text.startswith("["):
            return json.loads(text)
        return None


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None

    def args(self) -> dict[str, str]:
        """ARG defaults declared in this stage."""
        found = {}
        for instruction in self.all("ARG"):
            name, _, default = instruction.arguments.partition("=")
            found[name.strip()] = default.strip()
        return found

    def expand(self, text: str) -> str:
        return _expand(text, {**self.args(), **self.env()})

    def env(self, start: dict[str, str] | None = None) -> dict[str, str]:
        """The environment its ENV lines build, each value expanded against the environment so far."""
        environment = dict(start or {})
        for instruction in self.all("ENV"):
            for pair in shlex.split(instruction.arguments):
                key, _, value = pair.partition("=")
                environment[key] = _expand(value, environment)
        return environment


def _expand(value: str, environment: dict[str, str]) -> str:
    for key, replacement in sorted(environment.items(), key=lambda item: -len(item[0])):
        value = value.replace("${" + key + "}", replacement).replace("$" + key, replacement)
    return value


def logical_lines(text: str) -> list[str]:
    """Dockerfile lines with comments dropped and backslash continuations joined."""
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    if current:
        lines.append(current)
    return lines


def parse_dockerfile(path: Path = DOCKERFILE) -> tuple[dict[str, str], list[Stage]]:
    """(global ARG defaults, stages)."""
    arguments: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical_lines(path.read_text()):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG" and not stages:
            name, _, default = rest.strip().partition("=")
            arguments[name] = default
        elif keyword == "FROM":
            words = rest.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=_expand(words[0], arguments), name=name))
        else:
            assert stages, f"{keyword} before FROM in {path}"
            stages[-1].instructions.append(Instruction(keyword, rest.strip()))
    return arguments, stages
