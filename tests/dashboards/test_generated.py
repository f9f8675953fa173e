"""The committed dashboards, provisioning and rules are what dashboards/generate.py writes, and well formed."""

from __future__ import annotations

import json
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


PROVISIONED = {"cc-prometheus": "prometheus", "cc-clickhouse": "grafana-clickhouse-datasource"}
VARIABLE_OF = {"prometheus": "${prometheus}", "grafana-clickhouse-datasource": "${clickhouse}"}


def _provisioned_datasources() -> list[dict]:
    return common.load_yaml(common.GRAFANA / "provisioning/datasources/datasources.yaml")["datasources"]


def _datasource_references(board: dict) -> list[tuple[str, dict]]:
    """(where, datasource) of every panel, target and query variable of a dashboard."""
    found = []
    for panel in common.panels(board):
        for holder in [panel, *panel.get("targets", [])]:
            if "datasource" in holder:
                found.append((panel["title"], holder["datasource"]))
    for variable in board["templating"]["list"]:
        if "datasource" in variable:
            found.append((f"${variable['name']}", variable["datasource"]))
    return found


@pytest.mark.parametrize("name", sorted(common.dashboards()))
def test_every_query_goes_through_a_datasource_variable(name: str) -> None:
    board = common.dashboards()[name]
    datasource_variables = {
        variable["query"]: variable for variable in board["templating"]["list"] if variable["type"] == "datasource"
    }
    for where, datasource in _datasource_references(board):
        if datasource["type"] == "grafana":
            continue
        assert datasource["uid"] == VARIABLE_OF[datasource["type"]], (name, where, datasource)
        assert datasource["type"] in datasource_variables, (name, where)
    for plugin, variable in datasource_variables.items():
        # The default is the provisioned datasource of that plugin (Grafana falls back to the plugin's default).
        assert PROVISIONED[variable["current"]["value"]] == plugin, (name, variable)
        assert "${" + variable["name"] + "}" == VARIABLE_OF[plugin]


def test_datasource_provisioning_is_safe_in_any_grafana() -> None:
    """A provisioned default datasource makes a Grafana that already has one refuse to start; every uid the
    dashboards' variables and the alert rules name is provisioned, with the right plugin."""
    sources = _provisioned_datasources()
    assert not [source["name"] for source in sources if source.get("isDefault")]
    assert {source["uid"]: source["type"] for source in sources} == PROVISIONED
    assert len({source["name"] for source in sources}) == len(sources)
    for board in common.dashboards().values():
        for variable in board["templating"]["list"]:
            if variable["type"] == "datasource":
                assert variable["current"]["value"] in PROVISIONED
    for path in (common.GRAFANA / "provisioning/alerting").glob("*.yaml"):
        for group in common.load_yaml(path)["groups"]:
            for rule in group["rules"]:
                for query in rule["data"]:
                    assert query["datasourceUid"] in (*PROVISIONED, "__expr__"), rule["title"]
                    datasource = query["model"].get("datasource")
                    if datasource and query["datasourceUid"] != "__expr__":
                        assert datasource["uid"] == query["datasourceUid"], rule["title"]


def test_dashboard_provider_points_at_the_mounted_folder() -> None:
    [provider] = common.load_yaml(common.GRAFANA / "provisioning/dashboards/dashboards.yaml")["providers"]
    path = provider["options"]["path"]
    assert provider["type"] == "file" and path.startswith("/") and not path.endswith("/")
    assert provider["folder"].strip() and not provider["options"]["foldersFromFilesStructure"]
    readme = (common.DASHBOARDS_DIR / "README.md").read_text()
    assert f"dashboards/grafana/dashboards:{path}:ro" in readme, "the compose excerpt mounts another path"
    assert f"dashboards/grafana/dashboards/                → {path}/" in readme
    for alerting in (common.GRAFANA / "provisioning/alerting").glob("*.yaml"):
        folders = {group["folder"] for group in common.load_yaml(alerting)["groups"]}
        assert folders == {provider["folder"]}, "alert rules belong next to the dashboards"


def test_import_copies_are_self_contained() -> None:
    """dashboards/grafana/export/: what Grafana's "Export for sharing externally" writes, for Dashboards →
    Import in a Grafana without the provisioned uids."""
    exports = {path.name: json.loads(path.read_text()) for path in (common.GRAFANA / "export").glob("*.json")}
    assert exports.keys() == common.dashboards().keys()
    for name, board in common.dashboards().items():
        exported = exports[name]
        text = json.dumps(exported)
        assert "cc-prometheus" not in text and "cc-clickhouse" not in text, name
        assert exported["id"] is None
        inputs = {item["name"]: item for item in exported["__inputs"]}
        assert set(re.findall(r"\$\{(DS_\w+)\}", text)) == set(inputs), name
        for item in inputs.values():
            assert item["type"] == "datasource" and item["pluginId"] in PROVISIONED.values()
        required = {(item["type"], item["id"]) for item in exported["__requires"]}
        kinds = {panel["type"] for panel in common.panels(board)} - {"row"}
        assert {("panel", kind) for kind in kinds} <= required, name
        assert {("datasource", item["pluginId"]) for item in inputs.values()} <= required
        assert ("grafana", "grafana") in required
        for variable in exported["templating"]["list"]:
            if variable["type"] == "datasource":
                assert re.fullmatch(r"\$\{DS_\w+\}", variable["current"]["value"]), variable
        # Apart from the datasource variables' defaults and the import header, the same dashboard.
        plain = {key: value for key, value in exported.items() if not key.startswith("__") and key != "id"}
        assert plain["panels"] == board["panels"] and plain["uid"] == board["uid"]


def test_clickhouse_targets_are_current_plugin_queries() -> None:
    version = common.generator_module("grafana").CLICKHOUSE_PLUGIN_VERSION
    assert re.fullmatch(r"4\.\d+\.\d+", version)
    for _board, panel, target in common.targets("grafana-clickhouse-datasource"):
        assert target["pluginVersion"] == version, panel["title"]
        assert target["editorType"] == "sql" and target["rawSql"].strip()
        assert (target["queryType"], target["format"]) in {("table", 1), ("timeSeries", 0)}, panel["title"]
        if panel["type"] == "timeseries":
            assert target["queryType"] == "timeSeries", panel["title"]
        else:
            assert target["queryType"] == "table", panel["title"]


def test_figures_have_meaningful_colours_and_units() -> None:
    """No panel keeps Grafana's default thresholds (green, red from 80); ratios are coloured red / amber /
    green; table columns carry their own units."""
    for name, board in common.dashboards().items():
        for panel in common.panels(board):
            defaults = panel.get("fieldConfig", {}).get("defaults")
            if defaults is None:
                continue
            steps = defaults["thresholds"]["steps"]
            assert steps[0]["value"] is None and 80 not in [step["value"] for step in steps], (name, panel["title"])
            if panel["type"] in ("stat", "bargauge") and defaults["unit"] == "percentunit":
                assert [step["color"] for step in steps] in (["red", "orange", "green"], ["green", "orange", "red"])
                assert defaults["color"]["mode"] == "thresholds", (name, panel["title"])
            if panel["type"] == "table":
                units = {
                    override["matcher"]["options"]: prop["value"]
                    for override in panel["fieldConfig"]["overrides"]
                    for prop in override["properties"]
                    if prop["id"] == "unit"
                }
                for column, unit in units.items():
                    if "USD" in column or column.startswith("Cost"):
                        assert unit == "currencyUSD", (panel["title"], column)
                    if column in ("Time", "First seen", "Last seen", "Last active"):
                        assert unit == "dateTimeAsIso", (panel["title"], column)
                    if {"ratio", "rate"} & set(column.lower().split()):  # ratios in [0, 1], shown as percent
                        assert unit == "percentunit", (panel["title"], column)
                    if "Latency" in column or "duration" in column.lower():  # Claude Code's duration_ms
                        assert unit == "ms", (panel["title"], column)
                    if column in ("API requests", "Accepted lines", "Sessions", "Tokens", "Prompts", "Results"):
                        assert unit == "short", (panel["title"], column)
                assert units or panel["title"] == "Acceptance rate by tool", panel["title"]


def test_health_variables_come_from_the_build_info() -> None:
    board = common.dashboards()["collector-health.json"]
    queries = {variable["name"]: variable.get("definition") for variable in board["templating"]["list"]}
    assert queries["job"] == "label_values(cc_analytics_build_info, job)"
    assert queries["instance"] == 'label_values(cc_analytics_build_info{job=~"$job"}, instance)'


def test_alert_lists_show_the_dashboards_alerts() -> None:
    alerts = {
        rule["alert"]
        for group in common.load_yaml(common.RULES)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    for name, board in common.dashboards().items():
        [panel] = [panel for panel in common.panels(board) if panel["type"] == "alertlist"]
        listed = {alert for alert in alerts if panel["options"]["alertName"].lower() in alert.lower()}
        assert listed, (name, panel["options"])
    listed_anywhere = set()
    for board in common.dashboards().values():
        for panel in common.panels(board):
            if panel["type"] == "alertlist":
                listed_anywhere |= {alert for alert in alerts if panel["options"]["alertName"].lower() in alert.lower()}
    assert listed_anywhere == alerts, alerts - listed_anywhere


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


@pytest.mark.parametrize(
    "alert",
    sorted(
        rule["alert"]
        for group in common.load_yaml(common.RULES)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ),
)
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
