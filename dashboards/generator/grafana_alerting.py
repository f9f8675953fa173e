"""The alerts as Grafana-managed alert rules (provisioning)."""

from __future__ import annotations

import re
from typing import Any

from generator.alerts import ALERTS, Alert, inline_recorded
from generator.grafana import ch
from generator.vocabulary import CH, CLICKHOUSE_UID, PROMETHEUS_UID

# --- Grafana alerting provisioning ----------------------------------------------------------------------------

GRAFANA_EVALUATOR = {">": "gt", "<": "lt"}


def grafana_alert(alert: Alert) -> dict[str, Any]:
    """The same alert for Grafana's alerting: A = the Prometheus rule's expression (recorded series inlined, so
    it also works where rules.yml is not loaded), B = its last value, C = the threshold on B."""
    query = inline_recorded(alert.expr())
    if alert.op == "==":  # `x == 0` returns 0, which no threshold can tell from "nothing": compare x itself
        query = inline_recorded(alert.value)
        evaluator = {"type": "lt", "params": [alert.threshold + 0.5]}
    else:
        evaluator = {"type": GRAFANA_EVALUATOR[alert.op], "params": [alert.threshold]}
    longest = max([3600] + [_seconds(w) for w in re.findall(r"\[(\d+[smhdw])", query)])
    source: dict[str, Any] = {
        "refId": "A",
        "relativeTimeRange": {"from": longest, "to": 0},
        "datasourceUid": PROMETHEUS_UID,
        "model": {
            "refId": "A",
            "expr": query,
            "instant": True,
            "range": False,
            "intervalMs": 60000,
            "maxDataPoints": 43200,
        },
    }
    if alert.grafana_sql:
        source = {
            "refId": "A",
            "relativeTimeRange": {"from": 900, "to": 0},
            "datasourceUid": CLICKHOUSE_UID,
            "model": {**ch(alert.grafana_sql), "datasource": CH, "intervalMs": 60000, "maxDataPoints": 43200},
        }
    return {
        "uid": "cc-" + re.sub(r"(?<!^)(?=[A-Z])", "-", alert.name).lower()[:36],
        "title": alert.name,
        "condition": "C",
        "data": [
            source,
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
                    "conditions": [{"evaluator": evaluator}],
                },
            },
        ],
        "noDataState": "OK",
        "execErrState": "Error",
        "for": alert.for_,
        "labels": {"severity": alert.severity},
        "annotations": {"summary": alert.summary, "description": alert.description, "action": alert.action},
        "isPaused": False,
    }


def _seconds(window: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    return int(window[:-1]) * units[window[-1]]


def grafana_alerting() -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "groups": [
            {
                "orgId": 1,
                "name": f"claude-code-analytics.{group}",
                "folder": "Claude Code Analytics",
                "interval": "1m",
                "rules": [grafana_alert(alert) for alert in ALERTS if alert.group == group],
            }
            for group in ("claude-code", "collector")
        ],
    }
