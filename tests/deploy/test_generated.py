"""deploy/generate.py: the PrometheusRule and the dashboard ConfigMaps are exact copies of dashboards/, as rendered."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from tests.deploy.common import DASHBOARDS, DEPLOY, OVERLAYS, REPO, RULES, by_kind, one, render_overlay


def test_committed_manifests_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(DEPLOY / "generate.py"), "--check"], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert result.returncode == 0, f"run `python deploy/generate.py` and commit:\n{result.stderr}"


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> list[dict]:
    return render_overlay(request.param)


def test_prometheus_rule_groups_are_rules_yml(rendered: list[dict]) -> None:
    rule = one(rendered, "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["spec"]["groups"] == yaml.safe_load(RULES.read_text())["groups"]


def test_one_dashboard_configmap_per_dashboard_with_its_exact_json(rendered: list[dict]) -> None:
    maps = [
        m for m in by_kind(rendered, "ConfigMap") if m["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
    ]
    files = sorted(DASHBOARDS.glob("*.json"))
    assert files, "no dashboards to ship"
    carried = {name: text for m in maps for name, text in m["data"].items()}
    assert sorted(carried) == [f.name for f in files]
    for dashboard in files:
        # Byte for byte, and so also the same JSON.
        assert carried[dashboard.name] == dashboard.read_text(), f"{dashboard.name} differs from the committed file"
        assert json.loads(carried[dashboard.name])["uid"]
    for configmap in maps:
        assert len(configmap["data"]) == 1, "the sidecar expects one dashboard per ConfigMap here"
        assert configmap["metadata"]["annotations"]["grafana_folder"]
