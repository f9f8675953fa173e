"""Every ClickHouse query of the dashboards and of Grafana's alerts, with the plugin's macros expanded and the
variables substituted as Grafana does, runs on the real embedded engine (chDB) holding the known workload and
returns the workload's figures."""

from __future__ import annotations

import math
import re
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
from tests.support.sketch import Sketched, within_sketch

ALICE, BOB, CAROL, DAVE = "alice@example.com", "user_01BOB", "c0ffee" + "0" * 58, "dave@example.com"
OPUS, SONNET, HAIKU = "claude-opus-4-6", "claude-sonnet-4-5", "claude-haiku-4-5"
MCP = "mcp__github__create_issue"
EVERYTHING = Variables({"organization": ALL, "team": ALL, "model": ALL})
ACME = Variables({"organization": ["org-acme"], "team": ALL, "model": ALL})
OPUS_AND_HAIKU = Variables({"organization": ALL, "team": ALL, "model": [OPUS, HAIKU]})

# Per model: cost, tokens, USD per 1K tokens, cache hit ratio, API requests, API error ratio, latency p50 and
# p95, accepted lines. Opus: 1500 input + 200 output + 500 cacheRead tokens for 0.5 USD, one request of 1500 ms
# and one 429; Sonnet: no tokens, one request of 900 ms and one 529; Haiku: spend only.
MODELS = {
    OPUS: (OPUS, 0.5, 2200, 0.5 / 2.2, 0.25, 1, 0.5, Sketched(1500.0), Sketched(1500.0), 16),
    SONNET: (SONNET, 0.25, 0, None, None, 1, 0.5, Sketched(900.0), Sketched(900.0), 7),
    HAIKU: (HAIKU, 0.125, 0, None, None, 0, None, None, None, 0),
}
# Per session: member, cost, tokens, accepted lines, prompts (first and last seen are checked for type).
SESSIONS = {
    "sess-a1": ("sess-a1", ALICE, 0.5, 2200, 16, 1),
    "sess-b1": ("sess-b1", BOB, 0.125, 0, 4, 0),
    "sess-b2": ("sess-b2", BOB, 0.125, 0, 3, 0),
    "sess-c1": ("sess-c1", CAROL, 0.125, 0, 0, 0),
    "sess-d1": ("sess-d1", DAVE, 0.0, 0, 0, 1),
}


def _sessions(*ids: str) -> list[tuple]:
    return [SESSIONS[session] for session in ids]


# panel title → {variables name: expected rows without the `time` column}
EXPECTED: dict[str, dict[str, list[tuple]]] = {
    "Accepted lines": {"all": [(23, 2)], "acme": [(23, 2)]},
    "Acceptance rate": {"all": [(0.75, 6, 2)], "acme": [(0.75, 6, 2)]},
    "Cache hit ratio": {"all": [(0.25, 500, 2000)], "models": [(0.25, 500, 2000)]},
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
    "API requests and errors": {"all": [(2, 2)], "models": [(1, 1)]},
    "API error ratio": {"all": [(2, 2, 0.5)], "models": [(1, 1, 0.5)]},
    # Mean, p95 and max of the requests of 1500 and 900 ms: the p95 of two is the slower one.
    "API latency": {"all": [(1200.0, Sketched(1500.0), 1500.0)], "models": [(1500.0, Sketched(1500.0), 1500.0)]},
    "Tool success rate": {
        "all": [("Bash", 1, 0, 0.0, 120.0), ("Write", 1, 1, 1.0, 14.0), (MCP, 1, 1, 1.0, 250.0)],
    },
    "Recent API errors": {
        "all": [(BOB, "sess-b1", SONNET, "529", "1", 2000.0), (ALICE, "sess-a1", OPUS, "429", "2", 300.0)],
        "models": [(ALICE, "sess-a1", OPUS, "429", "2", 300.0)],
    },
    "Recent tool failures": {"all": [(BOB, "sess-b2", "Bash", "exit_code", "accept", 120.0)]},
    "Model comparison": {
        "all": [MODELS[OPUS], MODELS[SONNET], MODELS[HAIKU]],
        "models": [MODELS[OPUS], MODELS[HAIKU]],
    },
    "Priciest sessions": {
        "all": _sessions("sess-a1", "sess-b1", "sess-b2", "sess-c1", "sess-d1"),
        "acme": _sessions("sess-a1", "sess-b1", "sess-b2", "sess-d1"),
    },
    "Top sessions by accepted lines": {
        "all": _sessions("sess-a1", "sess-b1", "sess-b2", "sess-c1", "sess-d1"),
        "acme": _sessions("sess-a1", "sess-b1", "sess-b2", "sess-d1"),
    },
}  # fmt: skip
# Columns holding the time of a record: checked for type, not value.
TIME_COLUMNS = {"Last active", "First seen", "Last seen", "Time"}
VARIABLE_SETS = {"all": EVERYTHING, "acme": ACME, "models": OPUS_AND_HAIKU}
EXPECTED_VARIABLES = {
    "organization": [("org-acme",)],
    "team": [],  # the workload has no directory, so no teams
    "model": [("claude-haiku-4-5",), ("claude-opus-4-6",), ("claude-sonnet-4-5",)],
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """chDB holding the known workload (metrics and events, delta, OTLP/JSON), written by a real collector that
    keeps content (privacy.store_content), so the event tables are shown to leave error text out themselves."""
    data_dir: Path = tmp_path_factory.mktemp("dashboards-ch") / "data"
    collector = CollectorProcess(data_dir=data_dir, extra_env={"CC_ANALYTICS_PRIVACY_STORE_CONTENT": "true"}).start()
    try:
        workload.send_json(collector.otlp_http_url, "delta")
        common.send_extras(collector.otlp_http_url)
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
        if isinstance(e, Sketched):
            if not within_sketch(a, e):
                return False
        elif isinstance(e, float) or isinstance(a, float):
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


def _drop_time_columns(columns: list[str], rows: list[tuple]) -> list[tuple]:
    keep = [index for index, name in enumerate(columns) if name not in TIME_COLUMNS]
    for row in rows:
        for index, name in enumerate(columns):
            if name in TIME_COLUMNS:
                assert isinstance(row[index], datetime), (name, row)
    return [tuple(row[index] for index in keep) for row in rows]


CH_TARGETS = list(common.targets("grafana-clickhouse-datasource"))


def test_every_clickhouse_panel_has_expectations() -> None:
    titles = {panel["title"] for _, panel, _ in CH_TARGETS}
    assert titles == set(EXPECTED)


@pytest.mark.parametrize(
    ("board", "panel", "target"),
    CH_TARGETS,
    ids=[f"{panel['title']}-{target['refId']}" for _, panel, target in CH_TARGETS],
)
def test_clickhouse_panel_returns_the_workload(engine: Any, board: str, panel: dict, target: dict) -> None:
    now = datetime.now(UTC)
    start, end = now - timedelta(days=2), now + timedelta(seconds=1)
    for name, expected in EXPECTED[panel["title"]].items():
        sql = clickhouse_sql(target["rawSql"], VARIABLE_SETS[name], _time_range(panel, start, end))
        assert "$" not in sql, sql
        columns, rows = _run(engine, sql)
        rows = _drop_time_columns(columns, rows)
        rows = _strip_time([name for name in columns if name not in TIME_COLUMNS], rows, start, end)
        rows = sorted(rows, key=repr) if target["format"] == 0 else rows
        expected = sorted(expected, key=repr) if target["format"] == 0 else expected
        assert len(rows) == len(expected) and all(map(_same, rows, expected)), (name, sql, rows, expected)


def test_no_panel_reads_prompts_tool_parameters_or_error_text() -> None:
    """What a user typed, what a tool received and API error messages stay out of every panel."""
    for _, panel, target in CH_TARGETS:
        sql = target["rawSql"]
        keys = re.findall(r"\battributes\['(\w+)'\]", sql)
        assert not set(keys) & {"prompt", "tool_parameters", "tool_input", "error", "response"}, (panel["title"], keys)
        assert len(re.findall(r"\battributes\b", sql)) == len(keys), f"{panel['title']}: whole attribute maps"
        assert not re.search(r"\bbody\b|\bSELECT\s+\*", sql), panel["title"]


@pytest.mark.parametrize("title", ["Recent API errors", "Recent tool failures"])
def test_event_tables_show_no_secrets(engine: Any, title: str) -> None:
    panel = next(panel for _, panel, _ in CH_TARGETS if panel["title"] == title)
    now = datetime.now(UTC)
    sql = clickhouse_sql(panel["targets"][0]["rawSql"], EVERYTHING, TimeRange(now - timedelta(days=1), now))
    rows = _run(engine, sql)[1]
    assert rows
    text = repr(rows)
    assert common.SECRET_ERROR not in text and "4711" not in text, text
    stored = repr(_run(engine, "SELECT attributes FROM events WHERE event_name IN ('api_error', 'tool_result')")[1])
    assert common.SECRET_ERROR in stored  # the store has the message: the panel is what leaves it out


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


@pytest.mark.parametrize(
    ("board", "variable"),
    list(common.variables("grafana-clickhouse-datasource")),
    ids=lambda value: value["name"] if isinstance(value, dict) else value,
)
def test_clickhouse_variable_query(engine: Any, board: str, variable: dict) -> None:
    now = datetime.now(UTC)
    sql = clickhouse_sql(variable["query"], EVERYTHING, TimeRange(now - timedelta(days=2), now))
    assert _run(engine, sql)[1] == EXPECTED_VARIABLES[variable["name"]]
