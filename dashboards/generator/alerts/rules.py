"""Every alert in its order, Prometheus rules.yml, and the promtool tests that prove the alerts and the
recording rules."""

from __future__ import annotations

from typing import Any

from generator.alerts.ingest import availability_alerts, ingest_alerts
from generator.alerts.model import GROUP_INTERVALS, GROUP_ORDER, Alert, Scenario, group_name
from generator.alerts.recording import (
    ACCEPTANCE_1D,
    API_ERROR_RATIO,
    CACHE_SHARE_1H,
    RECORDING_RULES,
    SPEND_1H,
    TOOL_RATE_1H,
)
from generator.alerts.scenarios import C1, C2, ORG
from generator.alerts.store import durable_queue_alerts, refusal_alerts, store_alerts
from generator.alerts.usage import spend_alerts, usage_alerts
from generator.promtool import render, series
from generator.vocabulary import API_EVENTS, COST, DECISIONS, LINES, TOKENS

ALERTS: list[Alert] = [
    *spend_alerts(),
    *usage_alerts(),
    *availability_alerts(),
    *ingest_alerts(),
    *store_alerts(),
    *durable_queue_alerts(),
    *refusal_alerts(),
]

# --- rules.yml ------------------------------------------------------------------------------------------------


def _group(group: str) -> dict[str, Any]:
    rules: list[dict[str, Any]] = [
        {"record": name, "expr": expr} for name, expr, where in RECORDING_RULES if where == group
    ]
    rules += [
        {
            "alert": alert.name,
            "expr": alert.expr(),
            "for": alert.for_,
            "labels": {"severity": alert.severity},
            "annotations": alert.annotations(),
        }
        for alert in ALERTS
        if alert.group == group
    ]
    interval = {"interval": GROUP_INTERVALS[group]} if group in GROUP_INTERVALS else {}
    return {"name": group_name(group), **interval, "rules": rules}


def prometheus_rules() -> dict[str, Any]:
    return {"groups": [_group(group) for group in GROUP_ORDER]}


# --- promtool tests -------------------------------------------------------------------------------------------


def _alert_test(alert: Alert, scenario: Scenario, firing: bool) -> dict[str, Any]:
    expected = (
        [
            {
                "exp_labels": {"severity": alert.severity, **alert.labels},
                "exp_annotations": {
                    key: render(text, alert.labels, scenario.value) for key, text in alert.annotations().items()
                },
            }
        ]
        if firing
        else []
    )
    return {
        "name": f"{alert.name} {'fires' if firing else 'stays quiet'}: {scenario.name}",
        "interval": alert.step,
        "input_series": scenario.inputs,
        "alert_rule_test": [
            {"eval_time": when, "alertname": alert.name, "exp_alerts": expected} for when in scenario.at
        ],
    }


# promtool evaluates every rule of rules.yml at every evaluation: week-long scenarios are evaluated every 30
# minutes, which their eval times and `for` durations are multiples of, to keep the file's run short.
EVALUATION_INTERVALS = {"1m": "1m", "10m": "30m"}


def promtool_tests(step: str) -> dict[str, Any]:
    tests = []
    for alert in (alert for alert in ALERTS if alert.step == step):
        tests += [_alert_test(alert, scenario, firing=True) for scenario in (alert.firing, *alert.also_firing)]
        tests += [_alert_test(alert, scenario, firing=False) for scenario in alert.quiet]
    return {
        "rule_files": ["../rules.yml"],
        "evaluation_interval": EVALUATION_INTERVALS[step],
        "group_eval_order": group_eval_order(),
        "tests": tests,
    }


def group_eval_order() -> list[str]:
    """Recording groups before the alerts that read them. Without it promtool may evaluate an alert group
    first, at an evaluation time whose recorded samples do not exist yet (the previous ones are older than
    the 5 m lookback at a 10 m step), and the alert then sees nothing."""
    return [group_name(group) for group in GROUP_ORDER]


def _sample(expr: str, at_: str, labels: str, value: float) -> dict[str, Any]:
    return {"expr": expr, "eval_time": at_, "exp_samples": [{"labels": labels, "value": value}]}


def _organization_sample(recorded: str, value: float, expr: str = "") -> dict[str, Any]:
    """A recorded series of the organization ORG, read at 100 minutes (by its name unless `expr` says)."""
    return _sample(expr or recorded, "100m", f"{recorded}{{{ORG}}}", value)


def recording_tests() -> dict[str, Any]:
    """Recording rules evaluated on a small known series set."""
    opus = 'model="claude-opus-4-6"'
    return {
        "rule_files": ["../rules.yml"],
        "evaluation_interval": "1m",
        "group_eval_order": group_eval_order(),
        "tests": [
            {
                "name": "recording rules",
                "interval": "1m",
                "input_series": [
                    series(f"{COST}{{{ORG}, {opus}}}", "0+0.5x120"),
                    series(f'{TOKENS}{{{ORG}, {opus}, type="input"}}', "0+600x120"),
                    series(f'{TOKENS}{{{ORG}, {opus}, type="output"}}', "0+100x120"),
                    series(f'{TOKENS}{{{ORG}, {opus}, type="cacheRead"}}', "0+1800x120"),
                    series(f'{TOKENS}{{organization_id="org-beta", {opus}, type="input"}}', "0+600x120"),
                    series(f'{LINES}{{{ORG}, type="added"}}', "0+6x120"),
                    series(f'{DECISIONS}{{{ORG}, tool_name="Write", decision="accept"}}', "0+3x120"),
                    series(f'{DECISIONS}{{{ORG}, tool_name="Edit", decision="reject"}}', "0+1x120"),
                    series(f'{DECISIONS}{{{ORG}, tool_name="Bash", decision="reject"}}', "0+5x120"),
                    series(f'{API_EVENTS}{{{C1}, {ORG}, event_name="api_request"}}', "0+9x120"),
                    series(f'{API_EVENTS}{{{C2}, {ORG}, event_name="api_error"}}', "0+1x120"),
                    series(f'{API_EVENTS}{{{C1}, {ORG}, event_name="tool_result"}}', "0+30x120"),
                    series(f'{API_EVENTS}{{job="other", {ORG}, event_name="tool_result"}}', "0+30x120"),
                ],
                "promql_expr_test": [
                    _sample(
                        "organization_id_model:claude_code_cost_usage_usd:rate5m",
                        "60m",
                        f"organization_id_model:claude_code_cost_usage_usd:rate5m{{{ORG}, {opus}}}",
                        0.5 / 60,
                    ),
                    _sample(
                        f'organization_id_model_type:claude_code_token_usage_tokens:rate5m{{type="input", {ORG}}}',
                        "60m",
                        f"organization_id_model_type:claude_code_token_usage_tokens:rate5m{{{ORG}, {opus}, "
                        'type="input"}',
                        10,
                    ),
                    _sample(
                        "organization_id:claude_code_lines_of_code_added:rate5m",
                        "60m",
                        f"organization_id:claude_code_lines_of_code_added:rate5m{{{ORG}}}",
                        0.1,
                    ),
                    _organization_sample(SPEND_1H, 30),
                    # Bash is not a code-editing tool: 3 accepts / (3 + 1) decisions.
                    _organization_sample(ACCEPTANCE_1D, 0.75),
                    # Errors and calls are summed over the replicas: 1 / (9 + 1).
                    _organization_sample(API_ERROR_RATIO, 0.1),
                    # 1800 cache reads of 2400 input-side tokens a minute; output tokens are not input.
                    _organization_sample(CACHE_SHARE_1H, 0.75, f"{CACHE_SHARE_1H}{{{ORG}}}"),
                    # An organization without cache reads has a share of 0, not none.
                    _sample(
                        f'{CACHE_SHARE_1H}{{organization_id="org-beta"}}',
                        "100m",
                        f'{CACHE_SHARE_1H}{{organization_id="org-beta"}}',
                        0,
                    ),
                    # Only the collector's job counts: 30 calls a minute.
                    _organization_sample(TOOL_RATE_1H, 0.5),
                ],
            }
        ],
    }
