"""The dashboards' API and tool panels read their counts from event_calls_5m (migration 0013): their figures must
be those of the events themselves and of the raw events over the same whole five minutes, per team and model,
also on a store whose rollup was backfilled by the migration from the events it already held. On the real
engine (chDB), with the committed dashboards' SQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from exporters.clickhouse import ClickHouseConfig, ClickHouseStore, create_store
from exporters.clickhouse.migrations import load_migrations
from pdata import LogEvent
from tests.dashboards.grafana import TimeRange
from tests.integration.test_model_rollup import ALICE, BOB, OPUS, RED, SONNET, SONNET_ONLY, _api, _ns
from tests.integration.test_session_rollup import _rows
from tests.integration.test_views_semantics import write
from tests.support.schema import store_at_migration

REQUESTS, RATIO, TOOLS = "API requests and errors", "API error ratio", "Tool success rate"


def at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 3, 10, hour, minute, second, tzinfo=UTC)


def _tool(moment: datetime, who: dict[str, str], tool: str, success: bool, duration_ms: float) -> LogEvent:
    attributes = {**who, "tool_name": tool, "success": "true" if success else "false", "duration_ms": str(duration_ms)}
    return LogEvent(_ns(moment), "tool_result", "claude_code.tool_result", attributes, {})


def write_calls(store: ClickHouseStore) -> None:
    """On March 10 from 10:00: API requests and errors of two models in three five-minute buckets, tool results of
    two tools, and a user prompt, which no panel here counts."""
    write(
        store,
        events=(
            _api("api_request", at(10, 0, 30), ALICE, OPUS, 1200),
            _api("api_request", at(10, 4, 59), ALICE, OPUS, 800),
            _api("api_error", at(10, 3), ALICE, OPUS),
            _api("api_request", at(10, 5), BOB, SONNET, 500),
            _api("api_request", at(10, 7), BOB, SONNET, 700),
            _api("api_request", at(10, 9, 59), BOB, OPUS, 900),
            _api("api_error", at(10, 12), BOB, SONNET),
            _api("api_error", at(10, 14), BOB, SONNET),
            _api("api_request", at(10, 13), ALICE, OPUS, 400),
            _tool(at(10, 1), ALICE, "Bash", True, 100),
            _tool(at(10, 6), BOB, "Bash", False, 300),
            _tool(at(10, 11), BOB, "Bash", True, 200),
            _tool(at(10, 2), ALICE, "Edit", True, 10),
            _tool(at(10, 8), ALICE, "Edit", True, 30),
            LogEvent(_ns(at(10, 2)), "user_prompt", "claude_code.user_prompt", {**ALICE, "prompt_length": "12"}, {}),
        ),
    )


# Five-minute buckets of 10:00 to 10:14: (requests, errors).
SERIES = [(at(10, 0), 2, 1), (at(10, 5), 3, 0), (at(10, 10), 1, 2)]
ONE_QUARTER = TimeRange(at(10, 0), at(10, 14, 59))

# The panels' figures from the raw events over whole five minutes: the truth the rollup must equal.
RAW_SERIES = """
SELECT toStartOfFiveMinutes(time) AS bucket, countIf(event_name = 'api_request'), countIf(event_name = 'api_error')
FROM events
WHERE time >= {start:DateTime('UTC')} AND time < {end:DateTime('UTC')}
  AND event_name IN ('api_request', 'api_error')
  AND (team = {team:String} OR {team:String} = '') AND (model = {model:String} OR {model:String} = '')
GROUP BY bucket ORDER BY bucket
"""
RAW_TOOLS = """
SELECT tool_name, count(), countIf(success = 'true'), countIf(success = 'true') / count(), avg(duration_ms)
FROM events
WHERE time >= {start:DateTime('UTC')} AND time < {end:DateTime('UTC')} AND event_name = 'tool_result'
  AND (team = {team:String} OR {team:String} = '')
GROUP BY tool_name ORDER BY tool_name
"""


def _raw(store: ClickHouseStore, sql: str, start: datetime, end: datetime, team: str = "", model: str = "") -> list:
    bounds = {"start": start.replace(tzinfo=None), "end": end.replace(tzinfo=None), "team": team, "model": model}
    return [tuple(value.replace(tzinfo=UTC) if isinstance(value, datetime) else value for value in row)
            for row in store.select(sql, bounds)]  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ClickHouseStore]:
    # chDB allows one data path per process at a time: each test opens and closes its own.
    opened = create_store(ClickHouseConfig(dsn=f"chdb://{tmp_path / 'chdb'}"))
    write_calls(opened)
    yield opened
    opened.close()


def test_requests_and_errors_per_five_minutes_are_the_events_and_the_raw_table(store: ClickHouseStore) -> None:
    rows = _rows(store, REQUESTS, ONE_QUARTER)
    assert rows == SERIES
    assert rows == _raw(store, RAW_SERIES, at(10, 0), at(10, 15))
    assert _rows(store, RATIO, ONE_QUARTER) == [(3, 6, 3 / 9)]


def test_a_team_and_a_model_keep_their_counts(store: ClickHouseStore) -> None:
    # Red is Alice: 3 requests and the error at 10:03; Sonnet is Bob's 2 requests and 2 errors.
    assert _rows(store, REQUESTS, ONE_QUARTER, RED) == [(at(10, 0), 2, 1), (at(10, 10), 1, 0)]
    assert _rows(store, REQUESTS, ONE_QUARTER, RED) == _raw(store, RAW_SERIES, at(10, 0), at(10, 15), team="red")
    assert _rows(store, RATIO, ONE_QUARTER, SONNET_ONLY) == [(2, 2, 0.5)]
    assert _rows(store, REQUESTS, ONE_QUARTER, SONNET_ONLY) == _raw(
        store, RAW_SERIES, at(10, 0), at(10, 15), model=SONNET
    )


def test_tool_results_per_tool_are_the_events_and_the_raw_table(store: ClickHouseStore) -> None:
    rows = _rows(store, TOOLS, ONE_QUARTER)
    assert rows == [("Bash", 3, 2, 2 / 3, 200.0), ("Edit", 2, 2, 1.0, 20.0)]
    assert rows == _raw(store, RAW_TOOLS, at(10, 0), at(10, 15))
    assert _rows(store, TOOLS, ONE_QUARTER, RED) == [("Bash", 1, 1, 1.0, 100.0), ("Edit", 2, 2, 1.0, 20.0)]


def test_a_range_from_mid_bucket_keeps_that_bucket_and_ends_with_the_bucket_of_its_end(
    store: ClickHouseStore,
) -> None:
    # 10:06 to 10:11: the buckets 10:05 and 10:10 whole, as the panels say (in whole five minutes).
    window = TimeRange(at(10, 6), at(10, 11))
    assert _rows(store, RATIO, window) == [(2, 4, 2 / 6)]
    assert _rows(store, TOOLS, window) == _raw(store, RAW_TOOLS, at(10, 5), at(10, 15))
    assert _rows(store, TOOLS, window) == [("Bash", 2, 1, 0.5, 250.0), ("Edit", 1, 1, 1.0, 30.0)]


def test_the_migration_backfills_what_the_store_held_and_ingest_then_adds_once(tmp_path: Path) -> None:
    """A store at migration 0012 holding the events is upgraded: 0013 fills the rollup from its raw events, and
    what is written afterwards is counted once, by the materialized view."""
    upgraded = store_at_migration(f"chdb://{tmp_path / 'chdb'}", 12)
    try:
        write_calls(upgraded)
        assert upgraded.migrate() == [m.name for m in load_migrations() if m.version >= 13]
        assert _rows(upgraded, REQUESTS, ONE_QUARTER) == SERIES
        write(upgraded, events=(_api("api_error", at(10, 1), BOB, OPUS), _tool(at(10, 1), BOB, "Edit", False, 60)))
        assert _rows(upgraded, REQUESTS, ONE_QUARTER) == [(at(10, 0), 2, 2), *SERIES[1:]]
        assert _rows(upgraded, TOOLS, ONE_QUARTER) == [("Bash", 3, 2, 2 / 3, 200.0), ("Edit", 3, 2, 2 / 3, 100 / 3)]
    finally:
        upgraded.close()
