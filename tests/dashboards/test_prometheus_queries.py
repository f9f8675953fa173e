"""Every PromQL expression of every dashboard panel and every rule, evaluated by a real Prometheus scraping a
real collector fed with the known workload and the dashboards' extras (OTLP/JSON, delta, metrics and events).

The collector shows every new series at 0 for a moment before its first increment (the tests' collectors hold
it 2 s, Prometheus scrapes every second), so Prometheus records the 0 and `increase()` over a range covering the
workload equals the workload's totals. Every query is evaluated at the time of one scrape, which is the time of
the last sample of every series: `increase()` and `rate()` are then not extrapolated past it, and the figures
are exact.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.dashboards import common
from tests.dashboards.grafana import ALL, Variables, promql
from tests.support import workload
from tests.support.collector import CollectorProcess
from tests.support.prometheus import Labels, PrometheusServer

pytestmark = pytest.mark.prometheus

ORG = "org-acme"
OPUS, SONNET, HAIKU = "claude-opus-4-6", "claude-sonnet-4-5", "claude-haiku-4-5"
MCP = "mcp__github__create_issue"
VARIABLES = Variables(
    {"organization": ALL, "team": ALL, "model": ALL, "window": ["30d"], "job": ["cc-analytics"], "instance": ALL}
)
TOOLS = {"Edit": 2 / 3, "MultiEdit": 1.0, "NotebookEdit": 0.0, "Write": 1.0}

# (panel title, refId) → the result of the expression as written: a number (one series) or
# {label value or tuple: number} keyed by the labels named in BY.
EXACT: dict[tuple[str, str], Any] = {
    # Claude Code Analytics (Prometheus only): the derived gauges
    ("Accepted lines ($window)", "A"): 23,
    ("Spend ($window)", "A"): 0.875,
    ("Active users ($window)", "A"): 4,
    ("Sessions ($window)", "A"): 5,
    ("Acceptance rate ($window)", "A"): 0.75,
    ("Acceptance rate by tool ($window)", "A"): TOOLS,
    ("Activity: active users and sessions today", "A"): 4,
    ("Activity: active users and sessions today", "B"): 5,
    ("Spend: active users and USD", "A"): 4,
    # ... and the counters
    ("Acceptance rate by interval", "A"): 0.75,
    ("Accepted lines", "A"): 23,
    ("Accepted lines", "B"): 2,
    ("Spend: active users and USD", "B"): 0.875,
    ("Spend and lines by member (needs per-member labels)", "A"): 0.875,
    ("Spend and lines by member (needs per-member labels)", "B"): 23,
    ("Cache hit ratio", "A"): 0.25,  # 500 cacheRead of 2000 prompt-side tokens
    # Usage (both dashboards)
    ("Tokens by type and model", "A"): {("input", OPUS): 1500, ("output", OPUS): 200, ("cacheRead", OPUS): 500},
    ("Cost by model", "A"): {OPUS: 0.5, SONNET: 0.25, HAIKU: 0.125},
    ("Cost by model (time range)", "A"): {OPUS: 0.5, SONNET: 0.25, HAIKU: 0.125},
    ("Cache read ratio", "A"): 0.25,
    ("Sessions by terminal type", "A"): {"unknown": 4, "vscode": 1},
    ("Commits and pull requests", "A"): 2,
    ("Commits and pull requests", "B"): 1,
    ("Active time", "A"): {"user": 45},
    # API and tools: the events counter
    ("API requests and errors", "A"): 2,
    ("API requests and errors", "B"): 2,
    ("API error ratio", "A"): 0.5,
    ("API errors by status class", "A"): {"429": 1, "5xx": 1},
    ("Tool calls by tool", "A"): {"Write": 1, "Bash": 1, MCP: 1},
    ("MCP tool calls", "A"): {MCP: 1},
    ("Tool success rate", "A"): {"Write": 1.0, "Bash": 0.0, MCP: 1.0},
    # Collector health
    ("Collector up", "A"): 1,
    ("Version", "A"): 1,
    ("Write queue", "A"): 0,
    # Every request answered: nothing in flight, against the default budget (limits.max_inflight_bytes).
    ("In-flight request memory", "A"): 0,
    ("In-flight request memory", "B"): 64 * 1024**2,
    # The durable queue (queue.mode=wal, named by the fixture below) has drained every request: nothing waits, the
    # capacity is queue.max_bytes' default, and nothing was replayed or found damaged.
    ("Durable queue bytes", "A"): 0,
    ("Durable queue bytes", "B"): 1024**3,
    ("Durable queue drain rate and age", "B"): 0,
    ("Durable queue replayed and corrupt records", "A"): 0,
    ("Durable queue replayed and corrupt records", "B"): 0,
    # The store refused nothing, and every dead-letter outcome exists at 0 from the start.
    ("Store refusals and dead letters", "A"): 0,
    ("Store refusals and dead letters", "B"): {"written": 0, "not_written": 0},
}
BY = {
    "Tokens by type and model": ("type", "model"),
    "Cost by model": "model",
    "Cost by model (time range)": "model",
    "Active time": "type",
    "Acceptance rate by tool ($window)": "tool_name",
    "Sessions by terminal type": "terminal_type",
    "API errors by status class": "status_class",
    "Tool calls by tool": "tool_name",
    "MCP tool calls": "tool_name",
    "Tool success rate": "tool_name",
    "Store refusals and dead letters": "outcome",
}
# Expressions that give nothing, or only 0, on a healthy collector that never saw a duplicate or a rejection.
ZERO_WHEN_HEALTHY = {
    ("Store write errors and dedup hits", "B"),  # no request was retried
    ("Rejections by reason", "A"),  # nothing was rejected
    ("Rejected share", "A"),
    ("Rejected items (time range)", "A"),
    ("Series dropped (time range)", "A"),
    ("Cumulative points dropped by reason", "A"),  # the workload is delta: no cumulative point to drop
}
# Rates over the last minute whose value depends on where the scrapes fell: positive, the workload's records
# having been drained within the minute before the evaluation (test_every_request_was_drained checks the count).
POSITIVE = {("Durable queue drain rate and age", "A")}
# The gauges every replica reads from the one store: summing them over replicas would multiply the figure.
GAUGES = r"cc_analytics_(accepted_lines|spend_usd|active_users|sessions|acceptance_ratio)\b"


@dataclass
class Evaluation:
    """The Prometheus of the test and the time every query is evaluated at (one scrape's time)."""

    server: PrometheusServer
    at: float

    def query(self, expr: str) -> list[tuple[Labels, float]]:
        return self.server.query(expr, at=self.at)


def every_second_rules(directory: Path) -> Path:
    """rules.yml with every group evaluated at the global interval (1 s here), so the test need not wait for a
    group's own interval; the expressions are those of rules.yml."""
    document = common.load_yaml(common.RULES)
    for group in document["groups"]:
        group.pop("interval", None)
    path = directory / "rules.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Evaluation]:
    base: Path = tmp_path_factory.mktemp("dashboards-prom")
    rules = every_second_rules(base)
    # The durable queue named, so that its panels read a queue on the server path too (where auto is memory).
    env = {"CC_ANALYTICS_METRICS_GAUGE_CACHE_SECONDS": "0", "CC_ANALYTICS_QUEUE_MODE": "wal"}
    collector = CollectorProcess(data_dir=base / "data", extra_env=env).start()
    try:
        with PrometheusServer(targets=[collector.metrics_url], workdir=base / "prom", rules_files=[rules]) as server:
            # Prometheus starts scraping a few seconds after it is ready: the holds must begin after that.
            server.wait_for_scrape()
            workload.send_json(collector.otlp_http_url, "delta")
            common.send_extras(collector.otlp_http_url)
            # Each new series shows its value once its hold is over, the last ones being the extras'.
            server.wait_for('sum(claude_code_lines_of_code_count_total{type="added"})', 23)
            server.wait_for('sum(cc_analytics_events_total{event_name="api_error"})', 2)
            server.wait_for("sum(claude_code_session_count_total)", 5)
            server.wait_for('max(cc_analytics_accepted_lines{window="30d"})', 23)
            server.wait_for_scrape(settle=1.0)
            server.wait_for_rules()
            yield Evaluation(server, server.last_scrape_time())
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


def _expr(key: tuple[str, str]) -> str:
    return next(target["expr"] for _, panel, target in PROM_TARGETS if (panel["title"], target["refId"]) == key)


def test_the_workload_through_prometheus(prom: Evaluation) -> None:
    assert prom.query('sum(claude_code_lines_of_code_count_total{type="added"})')[0][1] == 23
    assert prom.query("sum(claude_code_cost_usage_USD_total)")[0][1] == pytest.approx(0.875)
    accepts = 'sum(claude_code_code_edit_tool_decision_total{decision="accept", tool_name=~"Edit|MultiEdit|Write|NotebookEdit"})'
    assert prom.query(accepts)[0][1] == 6


def test_every_request_was_drained(prom: Evaluation) -> None:
    # Each acknowledged request is one durable queue record, drained once.
    acknowledged = prom.query('sum(cc_analytics_otlp_requests_total{status="ok"})')[0][1]
    assert acknowledged > 0
    assert prom.query("sum(cc_analytics_queue_drained_records_total)")[0][1] == acknowledged


def test_every_figure_panel_has_an_expectation() -> None:
    keys = {(panel["title"], target["refId"]) for _, panel, target in PROM_TARGETS}
    assert set(EXACT) | ZERO_WHEN_HEALTHY | POSITIVE <= keys, (set(EXACT) | ZERO_WHEN_HEALTHY | POSITIVE) - keys
    figures = {
        key for key in keys if re.search(rf"claude_code_\w+_total|cc_analytics_events_total|{GAUGES}", _expr(key))
    }
    assert figures <= set(EXACT), figures - set(EXACT)


def test_gauges_are_read_with_max_and_never_summed() -> None:
    for _, panel, target in PROM_TARGETS:
        expr = target["expr"]
        if re.search(GAUGES, expr):
            assert re.search(rf"\bmax(?: by \([\w, ]+\))? ?\({GAUGES}", expr), (panel["title"], expr)
            assert not re.search(rf"\bsum\b[^(]*\({GAUGES}", expr), (panel["title"], expr)


@pytest.mark.parametrize(
    ("board", "panel", "target"),
    PROM_TARGETS,
    ids=[f"{board.split('.')[0]}:{panel['title']}-{target['refId']}" for board, panel, target in PROM_TARGETS],
)
def test_dashboard_expression(prom: Evaluation, board: str, panel: dict, target: dict) -> None:
    key = (panel["title"], target["refId"])
    expr = promql(target["expr"], VARIABLES, interval=panel.get("interval", "1m"))
    assert "$" not in expr, expr
    result = prom.query(expr)  # raises on a PromQL error
    if key in ZERO_WHEN_HEALTHY:
        assert all(value == 0 or math.isnan(value) for _, value in result), (expr, result)
        return
    if key in POSITIVE:
        assert len(result) == 1 and result[0][1] > 0, (expr, result)
        return
    assert result, f"{expr} returned nothing"
    if key in EXACT:
        _compare(result, EXACT[key], BY.get(panel["title"]), expr)


def test_version_panel_names_the_running_version(prom: Evaluation) -> None:
    target = next(target for _, panel, target in PROM_TARGETS if panel["title"] == "Version")
    [(labels, value)] = prom.query(promql(target["expr"], VARIABLES))
    assert value == 1 and re.fullmatch(r"\d+\.\d+\.\d+\S*", labels["version"]), labels


@pytest.mark.parametrize(
    ("board", "variable"),
    list(common.variables("prometheus")),
    ids=lambda value: value["name"] if isinstance(value, dict) else value,
)
def test_dashboard_variable_query(prom: Evaluation, board: str, variable: dict) -> None:
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


def test_health_variables_exist_before_any_telemetry(tmp_path: Path) -> None:
    """A collector that never received a request already fills the job and instance variables."""
    collector = CollectorProcess(data_dir=tmp_path / "data").start()
    try:
        with PrometheusServer(targets=[collector.metrics_url], workdir=tmp_path / "prom") as server:
            server.wait_for_scrape()
            board = common.dashboards()["collector-health.json"]
            for variable in board["templating"]["list"]:
                if variable["name"] in ("job", "instance"):
                    match = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["query"]["query"])
                    assert match
                    selector, label = promql(match.group(1), VARIABLES), match.group(2)
                    assert server.query(f"count by ({label}) ({selector})"), variable["name"]
    finally:
        collector.kill()


# --- rules.yml ------------------------------------------------------------------------------------------------

RULES = [rule for group in common.load_yaml(common.RULES)["groups"] for rule in group["rules"]]
# Recorded series whose figures the workload defines: {labels named in RULE_BY (organization_id by default): value}.
FIVE_MINUTES, HOUR = 300, 3600
RULE_EXPECTED = {
    "organization_id_model:claude_code_cost_usage_usd:rate5m": {
        (ORG, OPUS): 0.5 / FIVE_MINUTES,
        (ORG, SONNET): 0.25 / FIVE_MINUTES,
        ("", HAIKU): 0.125 / FIVE_MINUTES,
    },
    "organization_id_model_type:claude_code_token_usage_tokens:rate5m": {
        (ORG, OPUS, "input"): 1500 / FIVE_MINUTES,
        (ORG, OPUS, "output"): 200 / FIVE_MINUTES,
        (ORG, OPUS, "cacheRead"): 500 / FIVE_MINUTES,
    },
    "organization_id:claude_code_lines_of_code_added:rate5m": {(ORG,): 23 / FIVE_MINUTES},
    "organization_id:claude_code_cost_usage_usd:increase1h": {(ORG,): 0.75, ("",): 0.125},
    "organization_id:claude_code_cost_usage_usd:increase1d": {(ORG,): 0.75, ("",): 0.125},
    "organization_id:claude_code_api_errors_per_calls:ratio_increase15m": {(ORG,): 0.5},
    "organization_id:cc_analytics_events_tool_result:rate1h": {(ORG,): 3 / HOUR},
    # 500 cacheRead of 2000 input-side tokens (input + cacheRead + cacheCreation)
    "organization_id:claude_code_cache_read_tokens_per_input_tokens:ratio_increase1h": {(ORG,): 0.25},
    "organization_id:claude_code_cache_read_tokens_per_input_tokens:ratio_increase7d": {(ORG,): 0.25},
    "organization_id:claude_code_edit_tool_decisions:increase1d": {(ORG,): 8},
    "organization_id:claude_code_edit_tool_accepts:increase1d": {(ORG,): 6},
    "organization_id:claude_code_edit_tool_decisions:increase7d": {(ORG,): 8},
    "organization_id:claude_code_edit_tool_accepts:increase7d": {(ORG,): 6},
    "organization_id:claude_code_edit_tool_accepts_per_decisions:ratio_increase1d": {(ORG,): 0.75},
    "organization_id:claude_code_edit_tool_accepts_per_decisions:ratio_increase7d": {(ORG,): 0.75},
}
RULE_BY = {
    "organization_id_model:claude_code_cost_usage_usd:rate5m": ("organization_id", "model"),
    "organization_id_model_type:claude_code_token_usage_tokens:rate5m": ("organization_id", "model", "type"),
}


def test_rule_expectations_name_existing_rules() -> None:
    recorded = {rule["record"] for rule in RULES if "record" in rule}
    assert set(RULE_EXPECTED) <= recorded, set(RULE_EXPECTED) - recorded


def test_prometheus_loaded_every_rule_healthy(prom: Evaluation) -> None:
    loaded = [rule for group in prom.server.rules() for rule in group["rules"]]
    assert len(loaded) == len(RULES)
    assert all(rule["health"] == "ok" for rule in loaded), [r for r in loaded if r["health"] != "ok"]
    firing = [alert["labels"]["alertname"] for alert in prom.server.alerts()]
    assert firing == [], "no alert may fire on a healthy collector with a small workload"


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.get("record") or rule.get("alert"))
def test_rule_expression(prom: Evaluation, rule: dict) -> None:
    inlined = common.generator_module("alerts").inline_recorded(rule["expr"])
    result = prom.query(inlined)
    if "alert" in rule:
        assert result == [], f"{rule['alert']} would fire: {result}"
        return
    name = rule["record"]
    if name in RULE_EXPECTED:
        by = RULE_BY.get(name, ("organization_id",))
        got = {tuple(labels.get(label, "") for label in by): value for labels, value in result}
        assert got.keys() == RULE_EXPECTED[name].keys(), (name, got)
        for key, value in RULE_EXPECTED[name].items():
            assert math.isclose(got[key], value, rel_tol=1e-9), (name, key, got)
    # The recorded series itself, as Prometheus evaluated it from rules.yml.
    prom.server.query(name)
