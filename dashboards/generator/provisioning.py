"""Grafana provisioning: datasources and the dashboard provider."""

from __future__ import annotations

from typing import Any

from generator.grafana import CLICKHOUSE_NAME, CLICKHOUSE_PLUGIN, PROMETHEUS_NAME, PROMETHEUS_PLUGIN
from generator.vocabulary import CLICKHOUSE_UID, PROMETHEUS_UID

# Where the dashboards' JSON files are mounted in Grafana (dashboards/README.md shows the mount).
DASHBOARDS_PATH = "/var/lib/grafana/dashboards/claude-code-analytics"
# The Grafana folder of the dashboards; the alert rules' provisioning uses the same one.
FOLDER = "Claude Code Analytics"

# --- provisioning ---------------------------------------------------------------------------------------------


def datasources() -> dict[str, Any]:
    """Neither datasource is the default one: Grafana refuses to start when a second default is provisioned
    next to the one an installation already has."""
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": PROMETHEUS_NAME,
                "type": PROMETHEUS_PLUGIN,
                "uid": PROMETHEUS_UID,
                "access": "proxy",
                "url": "http://prometheus:9090",
                "editable": True,
                "jsonData": {"httpMethod": "POST", "timeInterval": "30s"},
            },
            {
                "name": CLICKHOUSE_NAME,
                "type": CLICKHOUSE_PLUGIN,
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
                "folder": FOLDER,
                "type": "file",
                "disableDeletion": False,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 60,
                "options": {
                    "path": DASHBOARDS_PATH,
                    "foldersFromFilesStructure": False,
                },
            }
        ],
    }
