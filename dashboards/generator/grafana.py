"""Grafana building blocks: panel layout, targets, panels, template variables, the dashboard envelope."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from generator.vocabulary import CH, PROM, sql

# --- panels ---------------------------------------------------------------------------------------------------


class Layout:
    """Places panels left to right in rows of 24 columns."""

    def __init__(self) -> None:
        self.x = 0
        self.y = 0
        self.row_height = 0
        self.next_id = 1

    def place(self, panel: dict[str, Any], w: int, h: int) -> dict[str, Any]:
        if self.x + w > 24:
            self.newline()
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        panel["id"] = self.next_id
        self.next_id += 1
        self.x += w
        self.row_height = max(self.row_height, h)
        return panel

    def newline(self) -> None:
        if self.x:
            self.y += self.row_height
        self.x = 0
        self.row_height = 0

    def row(self, title: str) -> dict[str, Any]:
        self.newline()
        panel = {"type": "row", "title": title, "collapsed": False, "panels": []}
        placed = self.place(panel, 24, 1)
        self.newline()
        return placed


def prom(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> dict[str, Any]:
    target: dict[str, Any] = {"refId": ref, "datasource": PROM, "expr": expr, "range": not instant, "instant": instant}
    if legend:
        target["legendFormat"] = legend
    return target


def ch(query: str, ref: str = "A", table: bool = False) -> dict[str, Any]:
    return {
        "refId": ref,
        "datasource": CH,
        "editorType": "sql",
        "queryType": "table" if table else "timeSeries",
        "format": 1 if table else 0,
        "rawSql": sql(query),
    }


def panel(
    kind: str,
    title: str,
    targets: list[dict[str, Any]],
    description: str,
    unit: str = "short",
    right: Iterable[str] = (),
    right_unit: str | None = None,
    interval: str | None = None,
    options: dict[str, Any] | None = None,
    defaults: dict[str, Any] | None = None,
    bars: bool = False,
) -> dict[str, Any]:
    datasource = targets[0]["datasource"]
    field_defaults: dict[str, Any] = {"unit": unit, **(defaults or {})}
    if kind == "timeseries":
        field_defaults["custom"] = {
            "drawStyle": "bars" if bars else "line",
            "fillOpacity": 60 if bars else 10,
            "lineWidth": 1,
            "showPoints": "auto",
            "spanNulls": False,
            "axisPlacement": "auto",
        }
    overrides = [
        {
            "matcher": {"id": "byName", "options": name},
            "properties": [{"id": "custom.axisPlacement", "value": "right"}]
            + ([{"id": "unit", "value": right_unit}] if right_unit else [])
            + ([{"id": "custom.drawStyle", "value": "line"}] if bars else []),
        }
        for name in right
    ]
    result: dict[str, Any] = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": datasource,
        "targets": targets,
        "fieldConfig": {"defaults": field_defaults, "overrides": overrides},
        "options": options or default_options(kind),
    }
    if interval:
        result["interval"] = interval
    return result


def default_options(kind: str) -> dict[str, Any]:
    if kind == "timeseries":
        return {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "none"},
        }
    if kind == "stat":
        return {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "none",
            "justifyMode": "auto",
            "textMode": "auto",
            "orientation": "auto",
        }
    if kind == "bargauge":
        return {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "displayMode": "basic",
            "orientation": "horizontal",
            "showUnfilled": True,
        }
    if kind == "table":
        return {"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"], "fields": ""}}
    return {}


def text_panel(title: str, content: str) -> dict[str, Any]:
    return {"type": "text", "title": title, "options": {"mode": "markdown", "content": content}}


# --- variables ------------------------------------------------------------------------------------------------


def ch_variable(name: str, label: str, query: str) -> dict[str, Any]:
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": CH,
        "query": sql(query),
        "definition": sql(query),
        "refresh": 2,
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "sort": 1,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
        "hide": 0,
    }


def prom_variable(name: str, label: str, query: str) -> dict[str, Any]:
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": PROM,
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "definition": query,
        "refresh": 2,
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "sort": 1,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
        "regex": "",
        "hide": 0,
    }


def window_variable() -> dict[str, Any]:
    options = [("today", "1d"), ("7 days", "7d"), ("30 days", "30d")]
    return {
        "type": "custom",
        "name": "window",
        "label": "Window (derived gauges)",
        "query": ",".join(f"{text} : {value}" for text, value in options),
        "current": {"selected": True, "text": "30 days", "value": "30d"},
        "options": [{"selected": value == "30d", "text": text, "value": value} for text, value in options],
        "includeAll": False,
        "multi": False,
        "hide": 0,
    }


def dashboard(
    uid: str,
    title: str,
    description: str,
    panels: list[dict[str, Any]],
    variables: list[dict[str, Any]],
    time_from: str = "now-7d",
    tags: tuple[str, ...] = (),
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["claude-code", *tags],
        "timezone": "utc",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "1m",
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "links": [],
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "templating": {"list": variables},
        "panels": panels,
    }
