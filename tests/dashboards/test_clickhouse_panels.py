"""Every ClickHouse query of the dashboards and of Grafana's alerts, with the plugin's macros expanded and the
variables substituted as Grafana does, runs on the real embedded engine (chDB) holding the known workload and
returns the workload's figures."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import clickhouse_connect
import pytest

from tests.dashboards import common
from tests.dashboards.grafana import ALL, TimeRange, Variables, clickhouse_sql, duration_seconds
from tests.support import workload
from tests.support.collector import CollectorProcess

ALICE, BOB, CAROL, DAVE = "alice@example.com", "user_01BOB", "c0ffee" + "0" * 58, "dave@example.com"
EVERYTHING = Variables({"organization": ALL, "team": ALL, "model": ALL})
ACME = Variables({"organization": ["org-acme"], "team": ALL, "model": ALL})
OPUS_AND_HAIKU = Variables({"organization": ALL, "team": ALL, "model": ["claude-opus-4-6", "claude-haiku-4-5"]})

# panel title → {variables name: expected rows without the `time` column}
EXPECTED: dict[str, dict[str, list[tuple]]] = {
    "Accepted lines": {"all": [(23, 2)], "acme": [(23, 2)]},
    "Acceptance rate": {"all": [(0.75, 6, 2)], "acme": [(0.75, 6, 2)]},
    "Acceptance rate by tool": {"all": [("Edit", 2 / 3), ("MultiEdit", 1.0), ("NotebookEdit", 0.0), ("Write", 1.0)]},
    "Accepted lines per day": {"all": [(23, 2)]},
    "Activity: active users and sessions": {"all": [(4, 5)], "acme": [(3, 4)]},
    "Spend: active users and USD": {"all": [(4, 0.875)], "acme": [(3, 0.75)]},
    "Team insights (calendar month of the range's end)": {
        "all": [(ALICE, "email", 0.5, 16, 1), (BOB, "account", 0.25, 7, 2), (CAROL, "anonymous", 0.125, 0, 1),
                (DAVE, "email", 0.0, 0, 1)],
        "acme": [(ALICE, "email", 0.5, 16, 1), (BOB, "account", 0.25, 7, 2), (DAVE, "email", 0.0, 0, 1)],
    },
    "Spend per member": {
        "all": [(ALICE, 0.5), (BOB, 0.25), (CAROL, 0.125)],
        "models": [(ALICE, 0.5), (CAROL, 0.125)],
    },
    "Accepted lines per member": {"all": [(ALICE, 16), (BOB, 7), (CAROL, 0), (DAVE, 0)]},
    "API requests and errors": {"all": [(2, 0)], "models": [(1, 0)]},
    "API error ratio": {"all": [(0, 2, 0.0)]},
    "API latency": {"all": [(1200.0, 1500.0, 1500.0)], "models": [(1500.0, 1500.0, 1500.0)]},
    "Tool success rate": {"all": [("Write", 1, 1, 1.0, 14.0)]},
}
VARIABLE_SETS = {"all": EVERYTHING, "acme": ACME, "models": OPUS_AND_HAIKU}
EXPECTED_VARIABLES = {
    "organization": [("org-acme",)],
    "team": [],  # the workload has no directory, so no teams
    "model": [("claude-haiku-4-5",), ("claude-opus-4-6",), ("claude-sonnet-4-5",)],
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """chDB holding the known workload (metrics and events, delta, OTLP/JSON), written by a real collector."""
    data_dir: Path = tmp_path_factory.mktemp("dashboards-ch") / "data"
    collector = CollectorProcess(data_dir=data_dir).start()
    try:
        workload.send_json(collector.otlp_http_url, "delta")
    finally:
        assert collector.stop() == 0, collector.log()
    client = clickhouse_connect.get_client(dsn=f"chdb://{data_dir / 'chdb'}")
    yield client
    client.close()


def _time_range(panel: dict[str, Any], start: datetime, end: datetime) -> TimeRange:
    return TimeRange(start, end, duration_seconds(panel["interval"]) if "interval" in panel else 60.0)


def _run(client: Any, sql: str) -> tuple[list[str], list[tuple]]:
    result = client.query(sql)
    return list(result.column_names), [tuple(row) for row in result.result_rows]


def _same(actual: tuple, expected: tuple) -> bool:
    if len(actual) != len(expected):
        return False
    for a, e in zip(actual, expected, strict=True):
        if isinstance(e, float) or isinstance(a, float):
            if a is None or not math.isclose(float(a), float(e), rel_tol=1e-9, abs_tol=1e-12):
                return False
        elif a != e:
            return False
    return True


def _strip_time(columns: list[str], rows: list[tuple], start: datetime, end: datetime) -> list[tuple]:
    if "time" not in columns:
        return rows
    index = columns.index("time")
    out = []
    for row in rows:
        moment = row[index]
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        assert start - timedelta(days=1) <= moment <= end, moment
        out.append(row[:index] + row[index + 1 :])
    return out


def _drop_extra_columns(columns: list[str], rows: list[tuple], title: str) -> list[tuple]:
    if title.startswith("Team insights"):
        # Last active is the time of the member's last record: checked for type, not value.
        index = columns.index("Last active")
        for row in rows:
            assert isinstance(row[index], datetime)
        return [row[:index] + row[index + 1 :] for row in rows]
    return rows


CH_TARGETS = list(common.targets("grafana-clickhouse-datasource"))


def test_every_clickhouse_panel_has_expectations() -> None:
    titles = {panel["title"] for _, panel, _ in CH_TARGETS}
    assert titles == set(EXPECTED)


@pytest.mark.parametrize(
    ("board", "panel", "target"), CH_TARGETS, ids=[f"{panel['title']}-{target['refId']}" for _, panel, target in CH_TARGETS]
)
def test_clickhouse_panel_returns_the_workload(engine: Any, board: str, panel: dict, target: dict) -> None:
    now = datetime.now(UTC)
    start, end = now - timedelta(days=2), now + timedelta(seconds=1)
    for name, expected in EXPECTED[panel["title"]].items():
        sql = clickhouse_sql(target["rawSql"], VARIABLE_SETS[name], _time_range(panel, start, end))
        assert "$" not in sql, sql
        columns, rows = _run(engine, sql)
        rows = _drop_extra_columns(columns, _strip_time(columns, rows, start, end), panel["title"])
        rows = sorted(rows, key=repr) if target["format"] == 0 else rows
        expected = sorted(expected, key=repr) if target["format"] == 0 else expected
        assert len(rows) == len(expected) and all(map(_same, rows, expected)), (name, sql, rows, expected)


def test_a_range_starting_mid_hour_keeps_that_hour(engine: Any) -> None:
    """The rollups hold whole hours: a range from one minute ago still sees this hour's rows."""
    panel = next(panel for _, panel, _ in CH_TARGETS if panel["title"] == "Accepted lines")
    now = datetime.now(UTC)
    if now.minute == 0:
        pytest.skip("the hour just began")
    sql = clickhouse_sql(panel["targets"][0]["rawSql"], EVERYTHING, TimeRange(now - timedelta(minutes=1), now))
    assert _run(engine, sql)[1] == [(23.0, 2.0)]


def test_a_range_before_the_workload_is_empty(engine: Any) -> None:
    panel = next(panel for _, panel, _ in CH_TARGETS if panel["title"] == "Activity: active users and sessions")
    end = datetime.now(UTC) - timedelta(days=3)
    sql = clickhouse_sql(panel["targets"][0]["rawSql"], EVERYTHING, TimeRange(end - timedelta(days=1), end, 86400))
    assert _run(engine, sql)[1] == []


@pytest.mark.parametrize(("board", "variable"), list(common.variables("grafana-clickhouse-datasource")),
                         ids=lambda value: value["name"] if isinstance(value, dict) else value)
def test_clickhouse_variable_query(engine: Any, board: str, variable: dict) -> None:
    now = datetime.now(UTC)
    sql = clickhouse_sql(variable["query"], EVERYTHING, TimeRange(now - timedelta(days=2), now))
    assert _run(engine, sql)[1] == EXPECTED_VARIABLES[variable["name"]]


def test_grafana_alert_on_api_errors_reads_the_events(engine: Any) -> None:
    queries = list(common.grafana_alert_queries("cc-clickhouse"))
    assert [title for title, _ in queries] == ["ClaudeCodeApiErrorRatioHigh"]
    _, model = queries[0]
    now = datetime.now(UTC)
    # The alert needs a minimum of calls: with the threshold lowered to the workload's 2 calls it answers 0 %.
    # A window that holds the workload's events whenever this runs after the module's collector wrote them.
    window = TimeRange(now - timedelta(hours=1), now + timedelta(minutes=5))
    sql = clickhouse_sql(model["rawSql"], EVERYTHING, window)
    assert _run(engine, sql)[1] == []
    lowered = sql.replace(f">= {common.generator_module("vocabulary").t('api_min_requests')}", ">= 2")
    columns, rows = _run(engine, lowered)
    stored = _run(engine, "SELECT event_name, organization_id, time FROM events ORDER BY time")[1]
    assert columns == ["time", "organization_id", "api_error_ratio"], (now, lowered, stored)
    assert [row[1:] for row in rows] == [("org-acme", 0.0)]
