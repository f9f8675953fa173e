"""Grafana provisioning: datasources and the dashboard provider."""

from __future__ import annotations

from typing import Any

from generator.vocabulary import CLICKHOUSE_UID, PROMETHEUS_UID

# --- provisioning ---------------------------------------------------------------------------------------------


def datasources() -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Prometheus (Claude Code)",
                "type": "prometheus",
                "uid": PROMETHEUS_UID,
                "access": "proxy",
                "url": "http://prometheus:9090",
                "isDefault": True,
                "editable": True,
                "jsonData": {"httpMethod": "POST", "timeInterval": "30s"},
            },
            {
                "name": "ClickHouse (Claude Code)",
                "type": "grafana-clickhouse-datasource",
                "uid": CLICKHOUSE_UID,
                "editable": True,
                "jsonData": {
                    "host": "clickhouse",
                    "port": 9000,
                    "protocol": "native",
                    "secure": False,
                    "username": "grafana_reader",
                    "defaultDatabase": "default",
                },
                "secureJsonData": {"password": "$CC_ANALYTICS_CLICKHOUSE_GRAFANA_PASSWORD"},
            },
        ],
    }


def dashboard_providers() -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "claude-code-analytics",
                "orgId": 1,
                "folder": "Claude Code Analytics",
                "type": "file",
                "disableDeletion": False,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 60,
                "options": {
                    "path": "/var/lib/grafana/dashboards/claude-code-analytics",
                    "foldersFromFilesStructure": False,
                },
            }
        ],
    }
