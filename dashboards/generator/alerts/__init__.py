"""Alerts and recording rules: Prometheus rules.yml, the promtool tests that prove them, and what the runbook and
Grafana's copies are built from.

model.py says what an alert is, recording.py holds the recording rules and their inlining, scenarios.py the
promtool scenarios' common pieces and builders, families.py the constructors of alerts that share their shape;
usage.py, ingest.py and store.py declare the alerts of each area, and rules.py puts them in order and renders
rules.yml and its tests."""

from __future__ import annotations

from generator.alerts.model import ALERT_GROUPS, GROUP_INTERVALS, GROUP_ORDER, Alert, Scenario, group_name
from generator.alerts.recording import (
    RECORDING_RULES,
    SPEND_1H,
    TOOL_RATE_1H,
    inline_recorded,
    seconds,
    shifted,
    subquery_step,
)
from generator.alerts.rules import ALERTS, group_eval_order, prometheus_rules, promtool_tests, recording_tests
from generator.alerts.scenarios import weekly

__all__ = [
    "ALERTS",
    "ALERT_GROUPS",
    "GROUP_INTERVALS",
    "GROUP_ORDER",
    "RECORDING_RULES",
    "SPEND_1H",
    "TOOL_RATE_1H",
    "Alert",
    "Scenario",
    "group_eval_order",
    "group_name",
    "inline_recorded",
    "prometheus_rules",
    "promtool_tests",
    "recording_tests",
    "seconds",
    "shifted",
    "subquery_step",
    "weekly",
]
