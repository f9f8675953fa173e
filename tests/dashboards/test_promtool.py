"""`promtool check rules` and `promtool test rules` on dashboards/prometheus/."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.dashboards import common
from tests.support.prometheus import promtool_binary, run_rule_tests


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool_binary(), *args],
        cwd=common.DASHBOARDS_DIR / "prometheus",
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_promtool_check_rules() -> None:
    result = _run("check", "rules", "rules.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_rules(tmp_path: Path) -> None:
    assert common.RULE_TESTS
    for result in run_rule_tests(common.RULE_TESTS, tmp_path):
        assert result.returncode == 0 and result.stdout.count("SUCCESS") == 1, result.stdout + result.stderr


def test_grafana_alert_queries_are_valid_promql(tmp_path: Path) -> None:
    """Grafana's copies inline the recorded series (subqueries, shifted offsets): promtool parses each of them
    as the expression of an alert."""
    queries = [
        {"alert": title, "expr": model["expr"]} for title, model in common.grafana_alert_queries("cc-prometheus")
    ]
    assert queries
    path = tmp_path / "grafana_queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "grafana", "rules": queries}]}))
    result = _run("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
