"""Every PromQL expression of every dashboard panel and every rule, evaluated by a real Prometheus scraping a
real collector fed with the known workload (OTLP/JSON, delta, metrics and events).

Expressions that map to a figure of the workload are compared with it. Counters appear with their first value,
so `increase()` over a window cannot recover the workload's totals (Prometheus never saw them at 0); for those
the test evaluates the expression as written (it must run and return series) and its cumulative form, with
each `increase(x[w])` / `rate(x[w])` replaced by `x`, which must equal the workload's figures: that proves the
metric names, labels and filters the panel relies on.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dashboards import common
from tests.dashboards.grafana import ALL, Variables, promql
from tests.support import workload
from tests.support.collector import CollectorProcess
from tests.support.prometheus import PrometheusServer

pytestmark = pytest.mark.prometheus

ORG = "org-acme"
OPUS, SONNET, HAIKU = "claude-opus-4-6", "claude-sonnet-4-5", "claude-haiku-4-5"
VARIABLES = Variables({"organization": ALL, "team": ALL, "model": ALL, "window": ["30d"], "job": ["cc-analytics"],
                       "instance": ALL})
TOOLS = {"Edit": 2 / 3, "MultiEdit": 1.0, "NotebookEdit": 0.0, "Write": 1.0}

# (panel title, refId) → expected result of the expression as written: a number (one series) or
# {label value or tuple: number} keyed by the labels named in BY.
EXACT: dict[tuple[str, str], Any] = {
    ("Accepted lines ($window)", "A"): 23,
    ("Spend ($window)", "A"): 0.875,
    ("Active users ($window)", "A"): 4,
    ("Sessions ($window)", "A"): 5,
    ("Acceptance rate ($window)", "A"): 0.75,
    ("Acceptance rate by tool ($window)", "A"): TOOLS,
    ("Activity: active users and sessions today", "A"): 4,
    ("Activity: active users and sessions today", "B"): 5,
    ("Spend: active users and USD", "A"): 4,
    ("Collector up", "A"): 1,
    ("Write queue", "A"): 0,
}
# The same for the cumulative form of expressions using increase()/rate().
CUMULATIVE: dict[tuple[str, str], Any] = {
    ("Tokens by type and model", "A"): {("input", OPUS): 1500, ("output", OPUS): 200},
    ("Cost by model", "A"): {OPUS: 0.5, SONNET: 0.25, HAIKU: 0.125},
    ("Cost by model (time range)", "A"): {OPUS: 0.5, SONNET: 0.25, HAIKU: 0.125},
    ("Cache read ratio", "A"): 0.0,
    ("Commits and pull requests", "A"): 2,
    ("Commits and pull requests", "B"): 1,
    ("Active time", "A"): {"user": 45},
    ("Acceptance rate by interval", "A"): 0.75,
    ("Accepted lines", "A"): 23,
    ("Accepted lines", "B"): 2,
    ("Spend: active users and USD", "B"): 0.875,
    ("Spend and lines by member (needs per-member labels)", "A"): 0.875,
    ("Spend and lines by member (needs per-member labels)", "B"): 23,
}
BY = {"Tokens by type and model": ("type", "model"), "Cost by model": "model", "Cost by model (time range)": "model",
      "Active time": "type", "Acceptance rate by tool ($window)": "tool_name"}
# Expressions that legitimately return nothing on a healthy collector that never saw a duplicate or a rejection.
EMPTY_WHEN_HEALTHY = {
    ("Store write errors and dedup hits", "B"),  # no request was retried
    ("Rejections by reason", "A"),  # nothing was rejected
    ("Rejected share", "A"),  # the rejected series does not exist until something is rejected
    ("Rejected items (time range)", "A"),
}


def cumulative(expr: str) -> str:
    return re.sub(r"\b(?:increase|rate)\((.+?)\[[^\]]+\]\)", r"\1", expr)


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    base: Path = tmp_path_factory.mktemp("dashboards-prom")
    collector = CollectorProcess(
        data_dir=base / "data", extra_env={"CC_ANALYTICS_METRICS_GAUGE_CACHE_SECONDS": "0"}
    ).start()
    try:
        with PrometheusServer(targets=[collector.metrics_url], workdir=base / "prom",
                              rules_files=[common.RULES]) as server:
            workload.send_json(collector.otlp_http_url, "delta")
            server.wait_for_scrape()
            server.wait_for('sum(claude_code_lines_of_code_count_total{type="added"})', 23)
            server.wait_for('sum(cc_analytics_accepted_lines{window="30d"})', 23)
            server.wait_for_scrape(settle=2.0)  # a few more scrapes: rate() and increase() need two samples
            server.wait_for_rules()
            yield server
    finally:
        collector.kill()


def _compare(result: list[tuple[dict[str, str], float]], expected: Any, by: Any, what: str) -> None:
    if isinstance(expected, dict):
        names = [by] if isinstance(by, str) else list(by)
        got = {}
        for labels, value in result:
            key = tuple(labels.get(name, "") for name in names)
            got[key[0] if isinstance(by, str) else key] = value
        assert got.keys() == expected.keys(), (what, got, expected)
        for key, value in expected.items():
            assert math.isclose(got[key], value, rel_tol=1e-9, abs_tol=1e-12), (what, key, got, expected)
    else:
        assert len(result) == 1, (what, result)
        assert math.isclose(result[0][1], expected, rel_tol=1e-9, abs_tol=1e-12), (what, result, expected)


PROM_TARGETS = list(common.targets("prometheus"))


def test_the_workload_through_prometheus(prom: PrometheusServer) -> None:
    assert prom.value('sum(claude_code_lines_of_code_count_total{type="added"})') == 23
    assert prom.value("sum(claude_code_cost_usage_USD_total)") == pytest.approx(0.875)
    assert prom.value('sum(claude_code_code_edit_tool_decision_total{decision="accept", '
                      'tool_name=~"Edit|MultiEdit|Write|NotebookEdit"})') == 6


def test_every_figure_panel_has_an_expectation() -> None:
    keys = {(panel["title"], target["refId"]) for _, panel, target in PROM_TARGETS}
    assert set(EXACT) | set(CUMULATIVE) | EMPTY_WHEN_HEALTHY <= keys
    uses_counters = {key for key in keys if re.search(r"claude_code_\w+_total", _expr(key))}
    assert uses_counters <= set(EXACT) | set(CUMULATIVE), uses_counters - set(EXACT) - set(CUMULATIVE)


def _expr(key: tuple[str, str]) -> str:
    return next(target["expr"] for _, panel, target in PROM_TARGETS if (panel["title"], target["refId"]) == key)


@pytest.mark.parametrize(("board", "panel", "target"), PROM_TARGETS,
                         ids=[f"{board.split('.')[0]}:{panel['title']}-{target['refId']}"
                              for board, panel, target in PROM_TARGETS])
def test_dashboard_expression(prom: PrometheusServer, board: str, panel: dict, target: dict) -> None:
    key = (panel["title"], target["refId"])
    expr = promql(target["expr"], VARIABLES, interval=panel.get("interval", "1m"))
    assert "$" not in expr, expr
    result = prom.query(expr)  # raises on a PromQL error
    if key in EMPTY_WHEN_HEALTHY:
        return
    assert result, f"{expr} returned nothing"
    if key in EXACT:
        _compare(result, EXACT[key], BY.get(panel["title"]), expr)
    if key in CUMULATIVE:
        total = cumulative(expr)
        assert total != expr
        _compare(prom.query(total), CUMULATIVE[key], BY.get(panel["title"]), total)


@pytest.mark.parametrize(("board", "variable"), list(common.variables("prometheus")),
                         ids=lambda value: value["name"] if isinstance(value, dict) else value)
def test_dashboard_variable_query(prom: PrometheusServer, board: str, variable: dict) -> None:
    query = variable["query"]["query"]
    match = re.fullmatch(r"label_values\((.+), (\w+)\)", query)
    assert match, query
    selector, label = promql(match.group(1), VARIABLES), match.group(2)
    values = {labels.get(label) for labels, _ in prom.query(f"count by ({label}) ({selector})")} - {None}
    expected = {"organization": {ORG}, "team": set(), "model": {OPUS, SONNET, HAIKU}, "job": {"cc-analytics"}}
    if variable["name"] == "instance":
        assert len(values) == 1
    else:
        assert values == expected[variable["name"]]


RULES = [rule for group in common.load_yaml(common.RULES)["groups"] for rule in group["rules"]]
RULE_CUMULATIVE = {
    "cc_analytics:spend_usd:rate5m": {(ORG, OPUS): 0.5, (ORG, SONNET): 0.25, ("", HAIKU): 0.125},
    "cc_analytics:tokens:rate5m": {(ORG, OPUS, "input"): 1500, (ORG, OPUS, "output"): 200},
    "cc_analytics:accepted_lines:rate5m": {(ORG,): 23},
    "cc_analytics:spend_usd:increase1h": {(ORG,): 0.75, ("",): 0.125},
    "cc_analytics:edit_decisions:increase1d": {(ORG,): 8},
    "cc_analytics:edit_accepts:increase1d": {(ORG,): 6},
    "cc_analytics:edit_decisions:increase7d": {(ORG,): 8},
    "cc_analytics:edit_accepts:increase7d": {(ORG,): 6},
    "cc_analytics:edit_acceptance_ratio:1d": {(ORG,): 0.75},
    "cc_analytics:edit_acceptance_ratio:7d": {(ORG,): 0.75},
}
RULE_BY = {
    "cc_analytics:spend_usd:rate5m": ("organization_id", "model"),
    "cc_analytics:tokens:rate5m": ("organization_id", "model", "type"),
}


def test_prometheus_loaded_every_rule_healthy(prom: PrometheusServer) -> None:
    loaded = [rule for group in prom.rules() for rule in group["rules"]]
    assert len(loaded) == len(RULES)
    assert all(rule["health"] == "ok" for rule in loaded), [r for r in loaded if r["health"] != "ok"]
    firing = [alert["labels"]["alertname"] for alert in prom.alerts()]
    assert firing == [], "no alert may fire on a healthy collector with a small workload"


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.get("record") or rule.get("alert"))
def test_rule_expression(prom: PrometheusServer, rule: dict) -> None:
    generate = common.generator_module("alerts")
    inlined = generate.inline_recorded(rule["expr"])
    result = prom.query(inlined)
    if "alert" in rule:
        assert result == [], f"{rule['alert']} would fire: {result}"
        alert = next(a for a in generate.ALERTS if a.name == rule["alert"])
        value = prom.query(generate.inline_recorded(alert.value))
        if alert.name == "ClaudeCodeSpendTodayHigh":
            _compare(value, 0.875, None, alert.value)
        elif alert.name == "ClaudeCodeCollectorDown":
            _compare(value, 1, None, alert.value)
        elif alert.name.startswith("CollectorWriteQueue"):
            _compare(value, 0, None, alert.value)
        return
    name = rule["record"]
    if name in RULE_CUMULATIVE:
        by = RULE_BY.get(name, ("organization_id",))
        got = {tuple(labels.get(label, "") for label in by): value for labels, value in prom.query(cumulative(inlined))}
        assert got.keys() == RULE_CUMULATIVE[name].keys(), (name, got)
        for key, value in RULE_CUMULATIVE[name].items():
            assert math.isclose(got[key], value, rel_tol=1e-9), (name, key, got)
    # The recorded series itself, as Prometheus evaluated it from rules.yml.
    prom.query(name)
