"""The committed dashboards, provisioning and rules, as the tests read them."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS_DIR = REPO / "dashboards"
GRAFANA = DASHBOARDS_DIR / "grafana"
RULES = DASHBOARDS_DIR / "prometheus" / "rules.yml"
RULE_TESTS = sorted((DASHBOARDS_DIR / "prometheus" / "tests").glob("*.yml"))


def generator():
    """dashboards/generate.py as a module (dashboards/ is not a package; its pieces are dashboards/generator/)."""
    name = "cc_dashboards_generate"
    if str(DASHBOARDS_DIR) not in sys.path:
        sys.path.insert(0, str(DASHBOARDS_DIR))
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, DASHBOARDS_DIR / "generate.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def generator_module(name: str):
    """One piece of the generator, e.g. generator_module("alerts").ALERTS."""
    generator()
    return importlib.import_module(f"generator.{name}")


def dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in sorted((GRAFANA / "dashboards").glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def targets(kind: str) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(dashboard file, panel, target) of every query of the given datasource type in every dashboard."""
    for name, dashboard in dashboards().items():
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                if target.get("datasource", panel.get("datasource", {})).get("type") == kind:
                    yield name, panel, target


def variables(kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, dashboard in dashboards().items():
        for variable in dashboard["templating"]["list"]:
            if variable.get("datasource", {}).get("type") == kind:
                yield name, variable


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def grafana_alert_queries(datasource_uid: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted((GRAFANA / "provisioning" / "alerting").glob("*.yaml")):
        for group in load_yaml(path)["groups"]:
            for rule in group["rules"]:
                for query in rule["data"]:
                    if query["datasourceUid"] == datasource_uid:
                        yield rule["title"], query["model"]
