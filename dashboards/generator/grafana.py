"""Grafana building blocks: datasource references, panel layout, targets, panels, field colours and units,
template variables, the dashboard envelope and its copy for import through Grafana's UI."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from typing import Any

from generator.vocabulary import CLICKHOUSE_UID, PROMETHEUS_UID, sql

# --- datasources ----------------------------------------------------------------------------------------------
# Every panel, target and query variable names its datasource through the dashboard's datasource variables
# ($prometheus, $clickhouse), whose defaults are the provisioned uids: the dashboards then work in a Grafana
# whose datasources carry other uids too (the user picks them in the variables).

PROMETHEUS_PLUGIN = "prometheus"
CLICKHOUSE_PLUGIN = "grafana-clickhouse-datasource"
# The ClickHouse plugin (v4) migrates a query whose pluginVersion is older than its own; v4 queries carry
# editorType, queryType (table | timeSeries) and format (1 table, 0 time series).
CLICKHOUSE_PLUGIN_VERSION = "4.5.1"
PROMETHEUS_NAME = "Prometheus (Claude Code)"
CLICKHOUSE_NAME = "ClickHouse (Claude Code)"
PROM_DS = {"type": PROMETHEUS_PLUGIN, "uid": "${prometheus}"}
CH_DS = {"type": CLICKHOUSE_PLUGIN, "uid": "${clickhouse}"}


# (variable, plugin id, provisioned uid and name, import input, plugin's display name)
DATASOURCE_VARIABLES = {
    "prometheus": (PROMETHEUS_PLUGIN, PROMETHEUS_UID, PROMETHEUS_NAME, "DS_PROMETHEUS", "Prometheus"),
    "clickhouse": (CLICKHOUSE_PLUGIN, CLICKHOUSE_UID, CLICKHOUSE_NAME, "DS_CLICKHOUSE", "ClickHouse"),
}
# The Grafana version the dashboards are written for (schemaVersion 39), stated in the import copy.
GRAFANA_VERSION = "10.0.0"

# --- units and colours ----------------------------------------------------------------------------------------

USD = "currencyUSD"  # Grafana's US dollar unit: $0.50
PERCENT = "percentunit"  # a ratio 0..1 shown as 0–100 %
COUNT = "short"
TIMESTAMP = "dateTimeAsIso"
MILLISECONDS = "ms"
SECONDS = "s"
NEUTRAL = "blue"


def steps(base: str, *above: tuple[float, str]) -> dict[str, Any]:
    """Absolute thresholds: `base` below the first value, then each (value, colour) from that value up."""
    return {
        "mode": "absolute",
        "steps": [{"color": base, "value": None}, *({"color": color, "value": value} for value, color in above)],
    }


def higher_is_better(amber_from: float, green_from: float) -> dict[str, Any]:
    """Red below amber_from, amber below green_from, green from there (acceptance, cache hits, success)."""
    return steps("red", (amber_from, "orange"), (green_from, "green"))


def lower_is_better(amber_from: float, red_from: float) -> dict[str, Any]:
    """Green below amber_from, amber below red_from, red from there (error ratios)."""
    return steps("green", (amber_from, "orange"), (red_from, "red"))


def column_units(units: dict[str, str]) -> list[dict[str, Any]]:
    """One field override per column name, setting its unit (tables show several kinds of figures)."""
    return [
        {"matcher": {"id": "byName", "options": name}, "properties": [{"id": "unit", "value": unit}]}
        for name, unit in units.items()
    ]


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
    target: dict[str, Any] = {
        "refId": ref,
        "datasource": PROM_DS,
        "expr": expr,
        "range": not instant,
        "instant": instant,
    }
    if legend:
        target["legendFormat"] = legend
    return target


def prom_targets(*series: tuple[str, str]) -> list[dict[str, Any]]:
    """Range targets, one per (expression, legend), refIds A, B, C, … in order."""
    return [prom(expr, legend, chr(ord("A") + index)) for index, (expr, legend) in enumerate(series)]


def ch(query: str, ref: str = "A", table: bool = False) -> dict[str, Any]:
    return {
        "refId": ref,
        "datasource": CH_DS,
        "pluginVersion": CLICKHOUSE_PLUGIN_VERSION,
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
    unit: str = COUNT,
    right: Iterable[str] = (),
    right_unit: str | None = None,
    interval: str | None = None,
    options: dict[str, Any] | None = None,
    defaults: dict[str, Any] | None = None,
    bars: bool = False,
    thresholds: dict[str, Any] | None = None,
    units: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A panel. `thresholds` colours the values (stat, bar gauge); without it a figure has one neutral colour,
    never Grafana's default red from 80. `units` sets the unit of named columns (tables)."""
    datasource = targets[0]["datasource"]
    field_defaults: dict[str, Any] = {"unit": unit, **_colours(kind, thresholds), **(defaults or {})}
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
    ] + column_units(units or {})
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


def bar_series(
    title: str, targets: list[dict[str, Any]], description: str, interval: str, **options: Any
) -> dict[str, Any]:
    """A timeseries of amounts per interval (counter increases, sums over rollups), drawn as bars: an amount
    belongs to its interval, not to an instant."""
    return panel("timeseries", title, targets, description, interval=interval, bars=True, **options)


def prom_graph(title: str, series: list[tuple[str, str]], description: str, **options: Any) -> dict[str, Any]:
    """A timeseries of Prometheus range queries, one line per (expression, legend)."""
    return panel("timeseries", title, prom_targets(*series), description, **options)


def _colours(kind: str, thresholds: dict[str, Any] | None) -> dict[str, Any]:
    if thresholds:
        return {"color": {"mode": "thresholds"}, "thresholds": thresholds}
    if kind in ("timeseries", "piechart"):
        return {"color": {"mode": "palette-classic"}, "thresholds": steps(NEUTRAL)}
    return {"color": {"mode": "fixed", "fixedColor": NEUTRAL}, "thresholds": steps(NEUTRAL)}


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
    if kind == "piechart":
        return {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "pieType": "donut",
            "legend": {"displayMode": "table", "placement": "right", "showLegend": True, "values": ["value"]},
            "tooltip": {"mode": "single", "sort": "none"},
        }
    if kind == "table":
        return {"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"], "fields": ""}}
    return {}


def stat_of(column: str) -> dict[str, Any]:
    """Stat options showing only the named column of a one-row table (the others stay for the inspector)."""
    return {
        **default_options("stat"),
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": f"/^{column}$/", "values": False},
    }


def ratio_stat(title: str, query: str, description: str, thresholds: dict[str, Any]) -> dict[str, Any]:
    """A stat of a ratio from a one-row ClickHouse table: the column named as the panel holds the ratio, the
    others its terms, kept for the inspector."""
    return panel(
        "stat",
        title,
        [ch(query, table=True)],
        description,
        unit=PERCENT,
        options=stat_of(title),
        thresholds=thresholds,
    )


def text_panel(title: str, content: str) -> dict[str, Any]:
    return {"type": "text", "title": title, "options": {"mode": "markdown", "content": content}}


def alert_list(title: str, description: str, name_contains: str) -> dict[str, Any]:
    """Grafana's alert list (unified alerting): the rules whose name contains `name_contains` that are firing,
    pending or failing; both Grafana-managed rules and those Prometheus evaluates (rules.yml) are listed."""
    return {
        "type": "alertlist",
        "title": title,
        "description": description,
        "options": {
            "viewMode": "list",
            "groupMode": "default",
            "groupBy": [],
            "maxItems": 20,
            "sortOrder": 1,
            "dashboardAlerts": False,
            "alertName": name_contains,
            "alertInstanceLabelFilter": "",
            "stateFilter": {"firing": True, "pending": True, "error": True, "noData": False, "normal": False},
        },
    }


# --- variables ------------------------------------------------------------------------------------------------


def datasource_variable(name: str, label: str) -> dict[str, Any]:
    """`$prometheus` / `$clickhouse`: any datasource of the plugin, the provisioned one by default (where no
    datasource has that uid, Grafana selects another of the plugin)."""
    plugin, uid, title, _, _ = DATASOURCE_VARIABLES[name]
    return {
        "type": "datasource",
        "name": name,
        "label": label,
        "query": plugin,
        "current": {"selected": False, "text": title, "value": uid},
        "options": [],
        "refresh": 1,
        "regex": "",
        "includeAll": False,
        "multi": False,
        "hide": 0,
    }


def _query_variable(
    name: str, label: str, datasource: dict[str, str], query: Any, definition: str, regex: str | None = None
) -> dict[str, Any]:
    """A multi-value variable with All selected, its values read by a query of the datasource."""
    variable: dict[str, Any] = {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": datasource,
        "query": query,
        "definition": definition,
        "refresh": 2,
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "sort": 1,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
    }
    if regex is not None:
        variable["regex"] = regex
    variable["hide"] = 0
    return variable


def ch_variable(name: str, label: str, query: str) -> dict[str, Any]:
    return _query_variable(name, label, CH_DS, sql(query), sql(query))


def prom_variable(name: str, label: str, query: str) -> dict[str, Any]:
    editor_query = {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"}
    return _query_variable(name, label, PROM_DS, editor_query, query, regex="")


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


# --- dashboards -----------------------------------------------------------------------------------------------


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


PANEL_NAMES = {
    "alertlist": "Alert list",
    "bargauge": "Bar gauge",
    "piechart": "Pie chart",
    "stat": "Stat",
    "table": "Table",
    "text": "Text",
    "timeseries": "Time series",
}


def _all_panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for item in board["panels"]:
        yield item
        yield from item.get("panels", [])


def for_import(board: dict[str, Any]) -> dict[str, Any]:
    """The dashboard as Grafana's "Export for sharing externally" writes it, for Dashboards → Import: the
    datasource variables default to the `__inputs` the import form asks for (${DS_PROMETHEUS},
    ${DS_CLICKHOUSE}), `__requires` names the plugins and panels, and there is no instance-specific id."""
    body = copy.deepcopy(board)
    inputs = []
    plugins = []
    for variable in body["templating"]["list"]:
        if variable["type"] != "datasource":
            continue
        plugin, _, _, input_name, plugin_name = DATASOURCE_VARIABLES[variable["name"]]
        reference = "${" + input_name + "}"
        variable["current"] = {"selected": False, "text": reference, "value": reference}
        inputs.append(
            {
                "name": input_name,
                "label": plugin_name,
                "description": f"{plugin_name} datasource of claude-code-analytics",
                "type": "datasource",
                "pluginId": plugin,
                "pluginName": plugin_name,
            }
        )
        version = CLICKHOUSE_PLUGIN_VERSION if plugin == CLICKHOUSE_PLUGIN else "1.0.0"
        plugins.append({"type": "datasource", "id": plugin, "name": plugin_name, "version": version})
    kinds = sorted({item["type"] for item in _all_panels(body) if item["type"] != "row"})
    requires = [
        {"type": "grafana", "id": "grafana", "name": "Grafana", "version": GRAFANA_VERSION},
        *plugins,
        *({"type": "panel", "id": kind, "name": PANEL_NAMES[kind], "version": ""} for kind in kinds),
    ]
    return {"__inputs": inputs, "__elements": {}, "__requires": requires, "id": None, **body}
