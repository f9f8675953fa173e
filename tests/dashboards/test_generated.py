"""The committed dashboards, provisioning and rules are what dashboards/generate.py writes, and well formed."""

from __future__ import annotations

import re

import pytest

from tests.dashboards import common


def test_committed_files_are_what_the_generator_writes() -> None:
    stale = [
        str(path.relative_to(common.REPO))
        for path, content in common.generator().outputs().items()
        if not path.exists() or path.read_text() != content
    ]
    assert not stale, f"stale, run `python dashboards/generate.py` and commit: {stale}"


def test_generator_check_mode_agrees() -> None:
    assert common.generator().main(["--check"]) == 0


def test_dashboards_are_grafana_json() -> None:
    boards = common.dashboards()
    assert set(boards) == {
        "claude-code-analytics.json", "claude-code-analytics-prometheus.json", "collector-health.json",
    }  # fmt: skip
    uids = set()
    for name, board in boards.items():
        assert board["schemaVersion"] >= 39, name
        assert board["uid"] not in uids
        uids.add(board["uid"])
        ids = [panel["id"] for panel in common.panels(board)]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
        for panel in common.panels(board):
            grid = panel["gridPos"]
            assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, (name, panel["title"])
            for target in panel.get("targets", []):
                assert target["refId"], (name, panel["title"])
    titles = {board["title"] for board in boards.values()}
    assert {"Claude Code Analytics", "Collector health"} <= titles


def test_every_datasource_a_dashboard_or_alert_uses_is_provisioned() -> None:
    provisioned = {
        source["uid"]: source["type"]
        for source in common.load_yaml(common.GRAFANA / "provisioning/datasources/datasources.yaml")["datasources"]
    }
    assert provisioned == {"cc-prometheus": "prometheus", "cc-clickhouse": "grafana-clickhouse-datasource"}
    for name, board in common.dashboards().items():
        for panel in common.panels(board):
            for holder in [panel, *panel.get("targets", [])]:
                if "datasource" in holder:
                    assert provisioned[holder["datasource"]["uid"]] == holder["datasource"]["type"], (name, panel)
        for variable in board["templating"]["list"]:
            if "datasource" in variable:
                assert variable["datasource"]["uid"] in provisioned
    for path in (common.GRAFANA / "provisioning/alerting").glob("*.yaml"):
        for group in common.load_yaml(path)["groups"]:
            for rule in group["rules"]:
                for query in rule["data"]:
                    assert query["datasourceUid"] in (*provisioned, "__expr__"), rule["title"]


def test_prometheus_only_dashboard_never_needs_clickhouse() -> None:
    board = common.dashboards()["claude-code-analytics-prometheus.json"]
    text = str(board)
    assert "cc-clickhouse" not in text and "grafana-clickhouse-datasource" not in text


def test_clickhouse_panels_use_only_the_plugins_macros_and_known_variables() -> None:
    known = {"organization", "team", "model"}
    macros = {"timeFilter", "fromTime", "toTime", "timeInterval", "conditionalAll"}
    for _board, panel, target in common.targets("grafana-clickhouse-datasource"):
        sql = target["rawSql"]
        assert target["editorType"] == "sql" and target["format"] in (0, 1), panel["title"]
        used = set(re.findall(r"\$__(\w+)", sql))
        assert used <= macros, (panel["title"], used - macros)
        variables = set(re.findall(r"\$\{?(?!__)(\w+)", sql))
        assert variables <= known, (panel["title"], variables - known)
        if target["format"] == 0:
            assert re.search(r"\bAS time\b", sql), f"{panel['title']}: a time series needs a `time` column"


def test_provisioning_files() -> None:
    providers = common.load_yaml(common.GRAFANA / "provisioning/dashboards/dashboards.yaml")
    assert providers["apiVersion"] == 1 and providers["providers"][0]["type"] == "file"
    alerting = common.load_yaml(common.GRAFANA / "provisioning/alerting/claude-code-analytics.yaml")
    grafana_alerts = {rule["title"] for group in alerting["groups"] for rule in group["rules"]}
    rules = common.load_yaml(common.RULES)
    prometheus_alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule}
    assert grafana_alerts == prometheus_alerts
    for group in alerting["groups"]:
        for rule in group["rules"]:
            assert rule["condition"] in {query["refId"] for query in rule["data"]}


@pytest.mark.parametrize("alert", sorted(
    rule["alert"] for group in common.load_yaml(common.RULES)["groups"] for rule in group["rules"] if "alert" in rule
))
def test_every_alert_has_a_firing_and_a_quiet_promtool_case(alert: str) -> None:
    cases = [
        (case["alertname"], bool(case["exp_alerts"]))
        for path in common.RULE_TESTS
        for test in common.load_yaml(path)["tests"]
        for case in test.get("alert_rule_test", [])
    ]
    assert (alert, True) in cases and (alert, False) in cases


def test_readme_lists_every_alert() -> None:
    readme = (common.DASHBOARDS_DIR / "README.md").read_text()
    for group in common.load_yaml(common.RULES)["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                assert f"`{rule['alert']}`" in readme
