"""The alert rules as committed (rules.yml, Grafana's provisioning, the README's runbook) and the generator's
helpers that build and prove them."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.dashboards import common

RULE_GROUPS = common.load_yaml(common.RULES)["groups"]
RULES = [rule for group in RULE_GROUPS for rule in group["rules"]]
ALERT_RULES = [rule for rule in RULES if "alert" in rule]
GRAFANA_GROUPS = common.load_yaml(common.GRAFANA / "provisioning/alerting/claude-code-analytics.yaml")["groups"]
GRAFANA_RULES = {rule["title"]: rule for group in GRAFANA_GROUPS for rule in group["rules"]}
README = (common.DASHBOARDS_DIR / "README.md").read_text()
# A metric the collector itself exposes (not after a colon: recorded series names contain such names).
COLLECTOR_SELECTOR = re.compile(r"(?<![\w:])(cc_analytics_\w+|up)\b(\{[^}]*\})?")
DERIVED_GAUGES = r"cc_analytics_(?:accepted_lines|spend_usd|active_users|sessions|acceptance_ratio)\b"


def _alerts() -> Any:
    return common.generator_module("alerts")


def _threshold(name: str) -> Any:
    return common.generator_module("vocabulary").t(name)


def _github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#{1,6} (.+)$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading).strip().lower().replace(" ", "-") for heading in headings}


def _all_expressions() -> list[tuple[str, str]]:
    """(rule, expression) of every rule of rules.yml and of every Grafana query."""
    found = [(rule.get("record") or rule["alert"], rule["expr"]) for rule in RULES]
    for title, rule in GRAFANA_RULES.items():
        found += [(f"grafana {title}", query["model"]["expr"]) for query in rule["data"] if "expr" in query["model"]]
    return found


@pytest.mark.parametrize("rule", ALERT_RULES, ids=lambda rule: rule["alert"])
def test_every_alert_links_its_runbook_and_dashboard(rule: dict) -> None:
    annotations = rule["annotations"]
    base, _, anchor = annotations["runbook_url"].partition("#")
    assert base == _threshold("runbook_base_url") and base.startswith("https://")
    assert anchor == rule["alert"].lower() and anchor in _github_anchors(README)
    section = README.split(f"#### {rule['alert']}\n", 1)[1].split("\n#### ", 1)[0]
    assert "**Means**" in section and "**Check**" in section and "**Do**" in section
    uids = {board["uid"] for board in common.dashboards().values()}
    assert annotations["dashboard"] in uids
    assert re.search(r"\{\{ \$value \| humanize(Percentage|Duration)? \}\}", annotations["description"])
    assert annotations["summary"] and annotations["action"]


EXPRESSIONS = _all_expressions()


@pytest.mark.parametrize(("rule", "expr"), EXPRESSIONS, ids=[rule for rule, _ in EXPRESSIONS])
def test_collector_metrics_are_read_from_the_collectors_job(rule: str, expr: str) -> None:
    job = f'job="{_threshold("collector_job")}"'
    for match in COLLECTOR_SELECTOR.finditer(expr):
        assert match.group(2) and job in match.group(2), (rule, match.group(0))


def test_derived_gauges_are_deduplicated_not_summed() -> None:
    """Every replica exposes the same gauge (one store): take one value, never add them up."""
    for rule, expr in EXPRESSIONS:
        if re.search(DERIVED_GAUGES, expr):
            assert re.search(rf"max without \(instance, pod\) \({DERIVED_GAUGES}", expr), rule
            assert not re.search(rf"\bsum\b[^(]*\({DERIVED_GAUGES}", expr), rule


def test_recording_rules_are_named_level_metric_operations() -> None:
    recorded = {rule["record"] for rule in RULES if "record" in rule}
    for name in recorded:
        assert re.fullmatch(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", name), name
    for rule, expr in EXPRESSIONS:
        for used in re.findall(r"(?<![\w:])([a-z_]+:[a-z0-9_]+:[a-z0-9_]+)(?![\w:])", expr):
            assert used in recorded, (rule, used)


def test_slow_rules_have_their_own_interval() -> None:
    """A rule over a day or more of samples is evaluated every few minutes, not at the global interval."""
    for group in RULE_GROUPS:
        windows = [_alerts().seconds(w) for rule in group["rules"] for w in re.findall(r"\[(\d+[dw])", rule["expr"])]
        if windows:
            assert "interval" in group, group["name"]


def test_groups_read_recorded_series_evaluated_before_them() -> None:
    """A group reads only series recorded by itself (earlier in the group) or by a group promtool evaluates
    before it (group_eval_order), never by a slower group it would see at its own pace."""
    order = _alerts().group_eval_order()
    recorded_in = {
        rule["record"]: group["name"] for group in RULE_GROUPS for rule in group["rules"] if "record" in rule
    }
    for group in RULE_GROUPS:
        seen: set[str] = set()
        for rule in group["rules"]:
            for used in re.findall(r"(?<![\w:])([a-z_]+:[a-z0-9_]+:[a-z0-9_]+)(?![\w:])", rule["expr"]):
                source = recorded_in[used]
                assert used in seen or order.index(source) < order.index(group["name"]), (group["name"], used)
                if source != group["name"]:
                    assert "interval" not in next(g for g in RULE_GROUPS if g["name"] == source), (group["name"], used)
            if "record" in rule:
                seen.add(rule["record"])


def test_grafana_copies_match_the_prometheus_rules() -> None:
    """Same expression (recorded series inlined), same pending period, severity and links; Prometheus only, so
    they work with a collector on the embedded store; groups and their intervals as in rules.yml."""
    intervals = {group["name"]: group.get("interval", "1m") for group in RULE_GROUPS}
    assert set(GRAFANA_RULES) == {rule["alert"] for rule in ALERT_RULES}
    for group in GRAFANA_GROUPS:
        step = _alerts().seconds(group["interval"])
        assert group["interval"] == intervals[group["name"]]
        prometheus_group = next(g for g in RULE_GROUPS if g["name"] == group["name"])
        assert [rule["title"] for rule in group["rules"]] == [
            r["alert"] for r in prometheus_group["rules"] if "alert" in r
        ]
        for rule in group["rules"]:
            original = next(r for r in ALERT_RULES if r["alert"] == rule["title"])
            [query] = [query for query in rule["data"] if query["refId"] == "A"]
            assert query["datasourceUid"] == "cc-prometheus", rule["title"]
            assert query["model"]["expr"] == _alerts().inline_recorded(original["expr"])
            assert rule["for"] == original["for"] and _alerts().seconds(rule["for"]) % step == 0, rule["title"]
            assert rule["labels"] == original["labels"]
            assert rule["annotations"]["runbook_url"] == original["annotations"]["runbook_url"]
            assert rule["annotations"]["description"] == original["annotations"]["description"].replace(
                "$value", "$values.B.Value"
            )


def test_no_grafana_alert_needs_clickhouse() -> None:
    assert list(common.grafana_alert_queries("cc-clickhouse")) == []


def test_equality_alerts_keep_their_value_in_grafana() -> None:
    """`up == 0` returns 0 and `absent(…) == 1` returns 1: Grafana's threshold is a range around that value."""
    equalities = [alert for alert in _alerts().ALERTS if alert.op == "=="]
    assert {alert.name for alert in equalities} >= {"ClaudeCodeCollectorDown", "CollectorScrapeTargetMissing"}
    for alert in equalities:
        [condition] = [query for query in GRAFANA_RULES[alert.name]["data"] if query["refId"] == "C"]
        evaluator = condition["model"]["conditions"][0]["evaluator"]
        assert evaluator == {"type": "within_range", "params": [alert.threshold - 0.5, alert.threshold + 0.5]}


# --- the generator's helpers ----------------------------------------------------------------------------------


def test_inline_recorded_shifts_an_offset_into_the_definition() -> None:
    alerts = _alerts()
    inlined = alerts.inline_recorded(f"{alerts.SPEND_1H} offset 1w")
    assert inlined == "(sum by (organization_id) (increase(claude_code_cost_usage_USD_total[1h] offset 1w)))"
    assert alerts.inline_recorded(f"{alerts.TOOL_RATE_1H}[7d]").endswith(")[7d:5m]")
    assert alerts.inline_recorded(f"{alerts.SPEND_1H}[30m]").endswith(")[30m:1m]")
    with pytest.raises(ValueError):
        alerts.inline_recorded(f'{alerts.SPEND_1H}{{organization_id="x"}}')
    with pytest.raises(ValueError):
        alerts.shifted("quantile_over_time(0.95, (x)[7d:5m])", "1w")


def _expand(notation: str) -> list[float]:
    """promtool's expanding notation, for the terms the generator writes (`a`, `axn`, `a+bxn`)."""
    values: list[float] = []
    for term in notation.split():
        match = re.fullmatch(r"([\d.]+)(?:([+-][\d.]+)?x(\d+))?", term)
        assert match, term
        start, step, count = float(match.group(1)), float(match.group(2) or 0), int(match.group(3) or 0)
        values += [start + step * i for i in range(count + 1)]
    return values


def test_counter_notation_is_the_counter() -> None:
    promtool = common.generator_module("promtool")
    increments = [0, 0, 5, 5, 5, 0, 1.5, 1.5, 0]
    notation = promtool.counter(increments)
    expected = [0.0]
    for increment in increments:
        expected.append(expected[-1] + increment)
    assert _expand(notation) == expected
    assert promtool.counter([0] * 5) == "0x5"


def test_weekly_series_work_the_working_hours_only() -> None:
    alerts, promtool = _alerts(), common.generator_module("promtool")
    monday = promtool.MONDAY
    values = _expand(alerts.weekly(1, promtool.minute_of(monday + 1, 0)))
    steps = {i * 10: values[i + 1] - values[i] for i in range(len(values) - 1)}  # by minute of the step's start
    assert steps[promtool.minute_of(0, 8, 50)] == 0 and steps[promtool.minute_of(0, 9)] == 1  # Thursday 09:00
    assert steps[promtool.minute_of(0, 16, 50)] == 1 and steps[promtool.minute_of(0, 17)] == 0
    assert sum(steps[m] for m in steps if promtool.minute_of(2, 0) <= m < promtool.minute_of(monday, 0)) == 0  # weekend
    assert sum(steps.values()) == 3 * 8 * 6  # Thursday, Friday, Monday


@pytest.mark.parametrize(
    ("function", "value", "expected"),
    [
        ("humanize", 0, "0"),
        ("humanize", 300, "300"),
        ("humanize", 1_234_567, "1.235M"),
        ("humanize", 0.0012, "1.2m"),
        ("humanizePercentage", 0.05, "5%"),
        ("humanizePercentage", 2 / 12, "16.67%"),
        ("humanizeDuration", 0, "0s"),
        ("humanizeDuration", 4.875, "4.875s"),
        ("humanizeDuration", 240, "4m 0s"),
        ("humanizeDuration", 90061, "1d 1h 1m 1s"),
        ("humanizeDuration", 0.25, "250ms"),
    ],
)
def test_go_template_functions(function: str, value: float, expected: str) -> None:
    """What Prometheus' template functions print (prometheus/template/template.go)."""
    assert common.generator_module("promtool").TEMPLATE_FUNCTIONS[function](value) == expected


def test_render_refuses_what_it_cannot_print_as_go_does() -> None:
    promtool = common.generator_module("promtool")
    assert promtool.render("{{ $labels.org }}: {{ $value | humanize }}", {"org": "acme"}, 2000) == "acme: 2k"
    with pytest.raises(ValueError):
        promtool.render("{{ $value }}", {}, 1.5)
    with pytest.raises(ValueError):
        promtool.render("{{ $value | humanize }}", {}, None)
