"""The alerts as Grafana-managed alert rules (provisioning): the same expressions as rules.yml, recorded series
inlined, read from Prometheus only, so they work without rules.yml and on a collector with the embedded store."""

from __future__ import annotations

import re
from typing import Any

from generator.alerts import ALERT_GROUPS, ALERTS, GROUP_INTERVALS, Alert, group_name, inline_recorded, seconds
from generator.vocabulary import PROMETHEUS_UID

# --- Grafana alerting provisioning ----------------------------------------------------------------------------

GRAFANA_EVALUATOR = {">": "gt", "<": "lt"}
DEFAULT_INTERVAL = "1m"


def evaluator(alert: Alert) -> dict[str, Any]:
    """The threshold on B, the alert expression's last value. The expression already returns only the series
    that breach it, so this restates the comparison; `x == n` returns n itself, which a range around n keeps
    (a plain `lt n + 1` would also take a value of the wrong sign)."""
    if alert.op == "==":
        return {"type": "within_range", "params": [alert.threshold - 0.5, alert.threshold + 0.5]}
    return {"type": GRAFANA_EVALUATOR[alert.op], "params": [alert.threshold]}


def grafana_template(text: str) -> str:
    """Prometheus' `$value` is Grafana's `$values.B.Value` (B being the last value of the query)."""
    return re.sub(r"\$value\b", "$values.B.Value", text)


def lookback_seconds(query: str) -> int:
    ranges = [seconds(w) for w in re.findall(r"\[(\d+[smhdwy])", query)]
    offsets = [seconds(w) for w in re.findall(r"offset (\d+[smhdwy])", query)]
    return max([3600, *ranges]) + max([0, *offsets])


def grafana_alert(alert: Alert) -> dict[str, Any]:
    """The same alert for Grafana's alerting: A = the Prometheus rule's expression (recorded series inlined, so
    it also works where rules.yml is not loaded), B = its last value, C = the threshold on B."""
    query = inline_recorded(alert.expr())
    annotations = {key: grafana_template(text) for key, text in alert.annotations().items()}
    return {
        "uid": "cc-" + re.sub(r"(?<!^)(?=[A-Z])", "-", alert.name).lower()[:36],
        "title": alert.name,
        "condition": "C",
        "data": [
            {
                "refId": "A",
                "relativeTimeRange": {"from": lookback_seconds(query), "to": 0},
                "datasourceUid": PROMETHEUS_UID,
                "model": {
                    "refId": "A",
                    "expr": query,
                    "instant": True,
                    "range": False,
                    "intervalMs": 60000,
                    "maxDataPoints": 43200,
                },
            },
            {
                "refId": "B",
                "datasourceUid": "__expr__",
                "model": {
                    "refId": "B",
                    "type": "reduce",
                    "expression": "A",
                    "reducer": "last",
                    "settings": {"mode": "dropNN"},
                },
            },
            {
                "refId": "C",
                "datasourceUid": "__expr__",
                "model": {
                    "refId": "C",
                    "type": "threshold",
                    "expression": "B",
                    "conditions": [{"evaluator": evaluator(alert)}],
                },
            },
        ],
        "noDataState": "OK",
        "execErrState": "Error",
        "for": alert.for_,
        "labels": {"severity": alert.severity},
        "annotations": annotations,
        "isPaused": False,
    }


def grafana_alerting() -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "groups": [
            {
                "orgId": 1,
                "name": group_name(group),
                "folder": "Claude Code Analytics",
                "interval": GROUP_INTERVALS.get(group, DEFAULT_INTERVAL),
                "rules": [grafana_alert(alert) for alert in ALERTS if alert.group == group],
            }
            for group in ALERT_GROUPS
        ],
    }
