"""The dashboards' Model comparison reads the per-model rollup (model_team_hourly, migration 0007) and the API latency
rollups (0014): its figures must be those of the facts themselves and of the raw tables over the same whole hours
(the latency percentiles to within the sketches' 1 %), also on a store whose rollups were backfilled by the
migrations from the rows it already held. On the real engine (chDB), with the committed dashboards' SQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from exporters.clickhouse import ClickHouseConfig, ClickHouseStore, create_store
from exporters.clickhouse.migrations import load_migrations
from pdata import LogEvent
from tests.dashboards.grafana import ALL, TimeRange, Variables
from tests.integration.test_session_rollup import _rows
from tests.integration.test_views_semantics import LINES, metric, write
from tests.support.schema import store_at_migration
from tests.support.sketch import Sketched, within_sketch

COST = "claude_code.cost.usage"
TOKENS = "claude_code.token.usage"
OPUS, SONNET = "claude-opus-4-6", "claude-sonnet-4-5"
EVERYTHING = Variables({"organization": ALL, "team": ALL, "model": ALL})
RED = Variables({"organization": ALL, "team": ["red"], "model": ALL})
SONNET_ONLY = Variables({"organization": ALL, "team": ALL, "model": [SONNET]})
PANEL = "Model comparison"


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


def _ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000


def _who(member: str, team: str) -> dict[str, str]:
    return {"user.email": member, "user.id": member, "team.id": team, "session.id": f"s-{member}"}


ALICE = _who("alice@example.com", "red")
BOB = _who("bob@example.com", "blue")


def _api(name: str, moment: datetime, who: dict[str, str], model: str, duration_ms: float = 0.0) -> LogEvent:
    attributes = {**who, "model": model, "duration_ms": str(duration_ms)}
    return LogEvent(_ns(moment), name, f"claude_code.{name}", attributes, {})


# Opus's 20 requests, spread over Alice's (red) and Bob's (blue) hours and both days: sorted, 100 200 200 300 400
# 500 500 500 800 1000 | 1200 1500 2000 2500 3000 4000 5000 6000 9000 12000, so p50 is the 11th (position
# ⌊0.5 × 20⌋ = 10) and p95 the 20th (⌊0.95 × 20⌋ = 19). Red holds the first 8 of the list below.
OPUS_DURATIONS = [500, 200, 12000, 100, 1500, 500, 3000, 800, 200, 9000, 400, 2500, 300, 1000, 4000, 500, 5000,
                  6000, 1200, 2000]  # fmt: skip
# Sonnet's 4 requests: 300 300 700 900, p50 the 3rd (the upper median, as quantileExact takes it), p95 the 4th.
SONNET_DURATIONS = [900, 300, 700, 300]


def write_models(store: ClickHouseStore) -> None:
    """Spend, tokens, lines and API calls of two models on March 10 and 11, and rows without a model (lines of a
    client older than 2.1.172, an api_request without one), which no per-model figure counts."""
    tokens = [("input", 1000), ("output", 200), ("cacheRead", 300), ("cacheCreation", 50)]
    write(
        store,
        metric(COST, 0.5, _ns(at(10, 10, 5)), ALICE, model=OPUS),
        *(metric(TOKENS, n, _ns(at(10, 10, 10)), ALICE, type=kind, model=OPUS) for kind, n in tokens),
        metric(LINES, 7, _ns(at(10, 11, 20)), ALICE, type="added", model=OPUS),
        metric(LINES, 3, _ns(at(10, 11, 20)), ALICE, type="removed", model=OPUS),
        metric(LINES, 40, _ns(at(10, 11, 20)), ALICE, type="added"),
        metric(COST, 0.25, _ns(at(11, 0, 15)), ALICE, model=OPUS),
        metric(COST, 2.0, _ns(at(10, 10, 30)), BOB, model=SONNET),
        metric(LINES, 12, _ns(at(10, 9, 59, 59)), BOB, type="added", model=SONNET),
        metric(TOKENS, 800, _ns(at(10, 12)), BOB, type="output", model=SONNET),
        events=(
            *(_api("api_request", at(10, 10, minute), ALICE, OPUS, d) for minute, d in enumerate(OPUS_DURATIONS[:4])),
            *(_api("api_request", at(10, 11, 30 + minute), ALICE, OPUS, d)
              for minute, d in enumerate(OPUS_DURATIONS[4:8])),
            *(_api("api_request", at(10, 10, 40 + minute), BOB, OPUS, d)
              for minute, d in enumerate(OPUS_DURATIONS[8:14])),
            *(_api("api_request", at(11, 0, minute), BOB, OPUS, d) for minute, d in enumerate(OPUS_DURATIONS[14:])),
            _api("api_error", at(10, 10, 50), ALICE, OPUS),
            _api("api_request", at(10, 9, 59), BOB, SONNET, SONNET_DURATIONS[0]),
            *(_api("api_request", at(10, 10, 20 + minute), BOB, SONNET, d)
              for minute, d in enumerate(SONNET_DURATIONS[1:])),
            _api("api_error", at(10, 12, 0), BOB, SONNET),
            _api("api_error", at(10, 12, 1), BOB, SONNET),
            _api("api_request", at(10, 10, 30), BOB, "", 99999),
        ),
    )  # fmt: skip


# Model, cost, tokens, USD per 1K tokens, cache hit ratio, API requests, API error ratio, latency p50 and p95,
# accepted lines over March 10 and 11.
OPUS_ROW = (OPUS, 0.75, 1550.0, 0.75 / 1550 * 1000, 300 / 1350, 20, 1 / 21, Sketched(1200), Sketched(12000), 7.0)
SONNET_ROW = (SONNET, 2.0, 800.0, 2.5, None, 4, 2 / 6, Sketched(700), Sketched(900), 12.0)
LATENCY = (7, 8)  # the columns of the percentiles
TWO_DAYS = TimeRange(at(10, 0), at(11, 23, 59))

# The panel's SQL before the rollup, on the raw tables alone: every raw point and event of the range grouped by
# model. Over the panel's whole hours it is the truth the rollup must equal.
RAW_MODELS = """
SELECT model, sum(spend), sum(tokens), if(sum(tokens) = 0, NULL, sum(spend) / sum(tokens) * 1000),
    if(sum(prompt_tokens) = 0, NULL, sum(cache_read) / sum(prompt_tokens)), sum(requests),
    if(sum(requests) + sum(errors) = 0, NULL, sum(errors) / (sum(requests) + sum(errors))),
    if(sum(requests) = 0, NULL, quantileExactIf(0.5)(duration_ms, requests = 1)),
    if(sum(requests) = 0, NULL, quantileExactIf(0.95)(duration_ms, requests = 1)), sum(lines)
FROM (
    SELECT model, if(fact = 'cost_usd', value, 0) AS spend, if(startsWith(fact, 'tokens_'), value, 0) AS tokens,
        if(fact IN ('tokens_input', 'tokens_cache_read', 'tokens_cache_creation'), value, 0) AS prompt_tokens,
        if(fact = 'tokens_cache_read', value, 0) AS cache_read, 0 AS requests, 0 AS errors, 0. AS duration_ms,
        if(fact = 'lines_added', value, 0) AS lines
    FROM metric_points
    WHERE time >= {start:DateTime('UTC')} AND time < {end:DateTime('UTC')}
      AND (team = {team:String} OR {team:String} = '')
    UNION ALL
    SELECT model, 0, 0, 0, 0, event_name = 'api_request', event_name = 'api_error', duration_ms, 0
    FROM events
    WHERE time >= {start:DateTime('UTC')} AND time < {end:DateTime('UTC')}
      AND (team = {team:String} OR {team:String} = '') AND event_name IN ('api_request', 'api_error')
)
WHERE model != ''
GROUP BY model
ORDER BY sum(spend) DESC, model
"""


def _raw_models(store: ClickHouseStore, window: TimeRange, team: str = "") -> list[tuple]:
    """RAW_MODELS over the whole hours the rollup panels read: from the start of the range's first hour to the
    end of the hour holding its end."""
    start = window.start.replace(minute=0, second=0, microsecond=0)
    end = window.end.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    bounds = {"start": start.replace(tzinfo=None), "end": end.replace(tzinfo=None), "team": team}
    rows = store.select(RAW_MODELS, bounds)
    return [tuple(_sketched(value) if i in LATENCY else value for i, value in enumerate(row)) for row in rows]


def _sketched(value: float | None) -> Sketched | None:
    return None if value is None else Sketched(value)


def _same(actual: list[tuple], expected: list[tuple]) -> bool:
    """Row by row, value by value; floats to the last bits their different order of summation may change, the
    percentiles to within the sketches' accuracy."""
    if len(actual) != len(expected):
        return False
    for row, wanted in zip(actual, expected, strict=True):
        if len(row) != len(wanted):
            return False
        for value, other in zip(row, wanted, strict=True):
            if isinstance(other, Sketched):
                if not within_sketch(value, other):
                    return False
            elif isinstance(value, float) and isinstance(other, float | int):
                if abs(value - other) > 1e-12 * max(1.0, abs(other)):
                    return False
            elif value != other:
                return False
    return True


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ClickHouseStore]:
    # chDB allows one data path per process at a time: each test opens and closes its own.
    opened = create_store(ClickHouseConfig(dsn=f"chdb://{tmp_path / 'chdb'}"))
    write_models(opened)
    yield opened
    opened.close()


def test_model_comparison_is_the_facts_and_the_raw_tables(store: ClickHouseStore) -> None:
    rows = _rows(store, PANEL, TWO_DAYS)
    assert _same(rows, [SONNET_ROW, OPUS_ROW]), rows
    assert _same(rows, _raw_models(store, TWO_DAYS)), (rows, _raw_models(store, TWO_DAYS))


def test_a_team_and_a_model_keep_their_rows(store: ClickHouseStore) -> None:
    # Red: Alice's Opus alone, 8 requests (100 200 500 500 800 1500 3000 12000): p50 the 5th, p95 the 8th.
    red = [(OPUS, 0.75, 1550.0, 0.75 / 1550 * 1000, 300 / 1350, 8, 1 / 9, Sketched(800), Sketched(12000), 7.0)]
    assert _same(_rows(store, PANEL, TWO_DAYS, RED), red)
    assert _same(_rows(store, PANEL, TWO_DAYS, RED), _raw_models(store, TWO_DAYS, "red"))
    assert _same(_rows(store, PANEL, TWO_DAYS, SONNET_ONLY), [SONNET_ROW])


def test_a_range_from_mid_hour_keeps_that_hour_and_ends_with_the_hour_of_its_end(store: ClickHouseStore) -> None:
    # 10:20 to 11:25 on March 10: the hours 10:00 and 11:00 whole, as every rollup panel reads them. Opus: the 14
    # requests of those hours (100 200 200 300 400 500 500 800 1000 1500 2500 3000 9000 12000: p50 the 8th, p95
    # the 14th), the error at 10:50, the lines at 11:20, spend and tokens at 10:05; Sonnet: 3 requests at 10:2x
    # (300 300 700), not the one at 9:59, nor the lines at 9:59:59, nor the errors and tokens at 12:00.
    window = TimeRange(at(10, 10, 20), at(10, 11, 25))
    opus = (OPUS, 0.5, 1550.0, 0.5 / 1550 * 1000, 300 / 1350, 14, 1 / 15, Sketched(800), Sketched(12000), 7.0)
    sonnet = (SONNET, 2.0, 0.0, None, None, 3, 0.0, Sketched(300), Sketched(700), 0.0)
    rows = _rows(store, PANEL, window)
    assert _same(rows, [sonnet, opus]), rows
    assert _same(rows, _raw_models(store, window))


def test_a_range_without_requests_has_no_latency(store: ClickHouseStore) -> None:
    # 12:00 to 12:59 on March 10: Sonnet's two errors and its output tokens, no request.
    window = TimeRange(at(10, 12, 0), at(10, 12, 59))
    rows = _rows(store, PANEL, window)
    assert _same(rows, [(SONNET, 0.0, 800.0, 0.0, None, 0, 1.0, None, None, 0.0)]), rows
    assert _same(rows, _raw_models(store, window))


def test_the_migration_backfills_what_the_store_held_and_ingest_then_adds_once(tmp_path: Path) -> None:
    """A store at migration 0006 holding the models' rows is upgraded: 0007 fills the rollup from its raw rows, and
    what is written afterwards is counted once, by the materialized views."""
    dsn = f"chdb://{tmp_path / 'chdb'}"
    upgraded = store_at_migration(dsn, 6)
    try:
        write_models(upgraded)
        assert upgraded.migrate() == [m.name for m in load_migrations() if m.version >= 7]  # 0007 and later ones
        backfilled = _rows(upgraded, PANEL, TWO_DAYS)
        assert _same(backfilled, [SONNET_ROW, OPUS_ROW]), backfilled
        # Two more Sonnet requests (300 and 1100: 300 300 300 700 900 1100, p50 the 4th, p95 the 6th), 1.5 USD
        # and 5 lines.
        write(
            upgraded,
            metric(COST, 1.5, _ns(at(11, 9)), BOB, model=SONNET),
            metric(LINES, 5, _ns(at(11, 9)), BOB, type="added", model=SONNET),
            events=(
                _api("api_request", at(11, 9, 1), BOB, SONNET, 300),
                _api("api_request", at(11, 9, 2), BOB, SONNET, 1100),
            ),
        )
        sonnet = (SONNET, 3.5, 800.0, 3.5 / 800 * 1000, None, 6, 2 / 8, Sketched(700), Sketched(1100), 17.0)
        rows = _rows(upgraded, PANEL, TWO_DAYS)
        assert _same(rows, [sonnet, OPUS_ROW]), rows
        assert _same(rows, _raw_models(upgraded, TWO_DAYS))
    finally:
        upgraded.close()
