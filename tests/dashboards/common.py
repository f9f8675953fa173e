"""The committed dashboards, provisioning and rules, as the tests read them."""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support import workload

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


# --- what the dashboards show beyond tests/support/workload.py ------------------------------------------------
# API errors, a failed tool, an MCP tool, cache reads and a terminal type, all in sessions the workload already
# has (so members, sessions and spend stay the workload's). The secrets must never reach a panel.
SECRET_ERROR = "upstream said: customer secret 4711"
SECRET_PARAMETERS = '{"bash_command": "cat /secret/4711"}'
EXTRA_EVENTS: list[tuple[str, dict[str, Any]]] = [
    ("api_error", {**workload.ALICE, "model": "claude-opus-4-6", "status_code": "429", "attempt": 2,
                   "duration_ms": 300, "error": SECRET_ERROR}),
    ("api_error", {**workload.BOB_1, "model": "claude-sonnet-4-5", "status_code": "529", "attempt": 1,
                   "duration_ms": 2000, "error": SECRET_ERROR}),
    ("tool_result", {**workload.BOB_2, "tool_name": "Bash", "success": "false", "duration_ms": "120",
                     "error_type": "exit_code", "decision_type": "accept", "error": SECRET_ERROR,
                     "tool_parameters": SECRET_PARAMETERS}),
    ("tool_result", {**workload.ALICE, "tool_name": "mcp__github__create_issue", "success": "true",
                     "duration_ms": "250", "decision_type": "accept"}),
]  # fmt: skip
# (metric, attributes, value)
EXTRA_POINTS: list[tuple[str, dict[str, str], float]] = [
    (workload.SESSION, {**workload.DAVE, "start_type": "fresh", "terminal.type": "vscode"}, 1),
    (workload.TOKENS, {**workload.ALICE, "type": "cacheRead", "model": "claude-opus-4-6", "query_source": "main"}, 500),
]


def _attributes(attributes: dict[str, Any]) -> list[dict[str, Any]]:
    def value(item: Any) -> dict[str, Any]:
        if isinstance(item, int):
            return {"intValue": item}  # a JSON number, as Claude Code sends it
        return {"stringValue": str(item)}

    return [{"key": key, "value": value(item)} for key, item in attributes.items()]


def send_extras(endpoint: str) -> None:
    """EXTRA_POINTS (delta) and EXTRA_EVENTS over OTLP/JSON, after the workload."""
    now_ns = time.time_ns()
    resource = {"attributes": _attributes({"service.name": "claude-code"})}
    metrics = [
        {
            "name": metric,
            "unit": workload.UNITS.get(metric, ""),
            "sum": {
                "aggregationTemporality": 1,
                "isMonotonic": True,
                "dataPoints": [
                    {
                        "attributes": _attributes(attributes),
                        "startTimeUnixNano": str(now_ns - 1_000_000),
                        "timeUnixNano": str(now_ns),
                        "asDouble": float(value),
                    }
                ],
            },
        }
        for metric, attributes, value in EXTRA_POINTS
    ]
    records = [
        {
            "timeUnixNano": str(now_ns + sequence),
            "body": {"stringValue": f"claude_code.{name}"},
            "attributes": _attributes({**attributes, "event.name": name, "event.sequence": 100 + sequence}),
        }
        for sequence, (name, attributes) in enumerate(EXTRA_EVENTS)
    ]
    scope = {"name": "com.anthropic.claude_code", "version": "2.1.331"}
    bodies = {
        "/v1/metrics": {
            "resourceMetrics": [{"resource": resource, "scopeMetrics": [{"scope": scope, "metrics": metrics}]}]
        },
        "/v1/logs": {
            "resourceLogs": [
                {
                    "resource": resource,
                    "scopeLogs": [{"scope": {"name": "com.anthropic.claude_code.events"}, "logRecords": records}],
                }
            ]
        },
    }
    for path, body in bodies.items():
        response = httpx.post(f"{endpoint}{path}", json=body, timeout=30)
        assert response.status_code == 200, response.text
