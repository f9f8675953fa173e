"""The dashboards' API latency and Model comparison read the latency of API requests from its five-minute rollup
(api_latency_5m, migration 0014): mean and maximum exact, the percentiles those of the requests to within the
sketches' 1 %, for every team together and per team and model, also on a store whose rollup was backfilled by the
migration from the events it already held. On the real engine (chDB), with the committed dashboards' SQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from exporters.clickhouse import ClickHouseConfig, ClickHouseStore, create_store
from exporters.clickhouse.migrations import load_migrations
from tests.dashboards.grafana import ALL, TimeRange, Variables
from tests.integration.test_event_calls_rollup import _raw, at
from tests.integration.test_model_rollup import ALICE, BOB, OPUS, RED, SONNET, SONNET_ONLY, _api, _same, _who
from tests.integration.test_session_rollup import _rows
from tests.integration.test_views_semantics import write
from tests.support.schema import store_at_migration
from tests.support.sketch import Sketched

LATENCY, MODELS = "API latency", "Model comparison"
RED_AND_BLUE = Variables({"organization": ALL, "team": ["red", "blue"], "model": ALL})


def write_requests(store: ClickHouseStore) -> None:
    """On March 10 from 10:00: API requests of Alice (red) and Bob (blue) with two models in three five-minute
    buckets, and an API error, which has no duration to count."""
    write(
        store,
        events=(
            _api("api_request", at(10, 0, 30), ALICE, OPUS, 1200),
            _api("api_request", at(10, 4, 59), ALICE, OPUS, 800),
            _api("api_request", at(10, 2), BOB, SONNET, 3000),
            _api("api_error", at(10, 3), ALICE, OPUS),
            _api("api_request", at(10, 5), BOB, SONNET, 500),
            _api("api_request", at(10, 7), BOB, SONNET, 700),
            _api("api_request", at(10, 9, 59), BOB, OPUS, 900),
            _api("api_request", at(10, 13), ALICE, OPUS, 400),
        ),
    )


# Five-minute buckets of 10:00 to 10:14: mean, p95 (quantileExact's: the value of rank ⌊0.95 × n⌋, from 0), max.
SERIES = [
    (at(10, 0), 5000 / 3, Sketched(3000), 3000.0),  # 800 1200 3000
    (at(10, 5), 700.0, Sketched(900), 900.0),  # 500 700 900
    (at(10, 10), 400.0, Sketched(400), 400.0),
]
RED_SERIES = [(at(10, 0), 1000.0, Sketched(1200), 1200.0), (at(10, 10), 400.0, Sketched(400), 400.0)]
SONNET_SERIES = [(at(10, 0), 3000.0, Sketched(3000), 3000.0), (at(10, 5), 600.0, Sketched(700), 700.0)]
ONE_QUARTER = TimeRange(at(10, 0), at(10, 14, 59))

# The panel's figures from the raw events over whole five minutes: the truth the rollups must equal.
RAW_SERIES = """
SELECT toStartOfFiveMinutes(time) AS bucket, avg(duration_ms), quantileExact(0.95)(duration_ms), max(duration_ms)
FROM events
WHERE time >= {start:DateTime('UTC')} AND time < {end:DateTime('UTC')} AND event_name = 'api_request'
  AND (team = {team:String} OR {team:String} = '') AND (model = {model:String} OR {model:String} = '')
GROUP BY bucket ORDER BY bucket
"""


def _raw_series(store: ClickHouseStore, start: datetime, end: datetime, team: str = "", model: str = "") -> list:
    """RAW_SERIES, its p95 the exact value the sketch's must be within 1 % of."""
    rows = _raw(store, RAW_SERIES, start, end, team, model)
    return [(bucket, mean, Sketched(p95), top) for bucket, mean, p95, top in rows]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ClickHouseStore]:
    # chDB allows one data path per process at a time: each test opens and closes its own.
    opened = create_store(ClickHouseConfig(dsn=f"chdb://{tmp_path / 'chdb'}"))
    write_requests(opened)
    yield opened
    opened.close()


def test_the_latency_series_is_the_requests_of_each_five_minutes(store: ClickHouseStore) -> None:
    rows = _rows(store, LATENCY, ONE_QUARTER)
    assert _same(rows, SERIES), rows
    assert _same(rows, _raw_series(store, at(10, 0), at(10, 15)))
    # The p95 of two requests is the slower one, as quantileExact takes it.
    assert _same(_rows(store, LATENCY, ONE_QUARTER, SONNET_ONLY), SONNET_SERIES)


def test_a_team_reads_its_own_rows_and_every_team_selected_reads_the_same_as_all(store: ClickHouseStore) -> None:
    red = _rows(store, LATENCY, ONE_QUARTER, RED)
    assert _same(red, RED_SERIES), red
    assert _same(red, _raw_series(store, at(10, 0), at(10, 15), team="red"))
    # Both teams by name read the rollup's per-team rows, All its rows of every team together: the same figures.
    assert _same(_rows(store, LATENCY, ONE_QUARTER, RED_AND_BLUE), SERIES)
    # Model comparison's percentiles from the same rollups: red is Alice's Opus (400 800 1200), all teams add
    # Bob's Opus 900 (400 800 900 1200: p50 the 3rd, p95 the 4th) and his Sonnet (500 700 3000).
    assert _same([row[7:9] for row in _rows(store, MODELS, ONE_QUARTER, RED)], [(Sketched(800), Sketched(1200))])
    models = {row[0]: row[7:9] for row in _rows(store, MODELS, ONE_QUARTER, RED_AND_BLUE)}
    assert _same([models[OPUS], models[SONNET]], [(Sketched(900), Sketched(1200)), (Sketched(700), Sketched(3000))])
    assert _rows(store, MODELS, ONE_QUARTER, RED_AND_BLUE) == _rows(store, MODELS, ONE_QUARTER)


def test_a_request_without_a_team_counts_in_every_teams_rows_and_in_its_own(
    store: ClickHouseStore,
) -> None:
    # Carol has no team (team ''): her request at 10:13 joins the bucket 10:10 of every team together, whose rows
    # also have team '', but are told apart by all_teams.
    write(store, events=(_api("api_request", at(10, 13), _who("carol@example.com", ""), OPUS, 1600),))
    everyone = _rows(store, LATENCY, ONE_QUARTER)
    assert _same(everyone, [*SERIES[:2], (at(10, 10), 1000.0, Sketched(1600), 1600.0)]), everyone
    assert _same(_rows(store, LATENCY, ONE_QUARTER, RED), RED_SERIES)
    # The rows of team '' alone hold her request only; those of every team together hold all eight.
    rows = "SELECT sum(requests), max(max_duration_ms) FROM api_latency_5m WHERE all_teams = {all:UInt8} AND team = ''"
    assert store.select(rows, {"all": 0}) == [(1, 1600.0)]
    assert store.select(rows, {"all": 1}) == [(8, 3000.0)]


def test_a_range_from_mid_five_minutes_keeps_them_whole(store: ClickHouseStore) -> None:
    # 10:06 to 10:11: the buckets 10:05 and 10:10 whole, as the rollup keeps them.
    rows = _rows(store, LATENCY, TimeRange(at(10, 6), at(10, 11)))
    assert _same(rows, SERIES[1:]), rows


def test_many_requests_keep_their_percentiles_within_one_percent(tmp_path: Path) -> None:
    """2 000 requests in one five-minute bucket, from 3 ms to 20 s: mean and max exact, p50 and p95 those of
    quantileExact over the raw events to within 1 %."""
    durations = [3.0 + (i * 7919) % 20000 for i in range(2000)]
    store = create_store(ClickHouseConfig(dsn=f"chdb://{tmp_path / 'chdb'}"))
    try:
        who = (ALICE, BOB)
        write(
            store,
            events=tuple(
                _api("api_request", at(11, i % 5, i % 60), who[i % 2], OPUS, d) for i, d in enumerate(durations)
            ),
        )
        ordered = sorted(durations)
        p50, p95 = ordered[1000], ordered[1900]  # quantileExact's ranks ⌊0.5 × 2000⌋ and ⌊0.95 × 2000⌋
        rows = _rows(store, LATENCY, TimeRange(at(11, 0), at(11, 4, 59)))
        assert _same(rows, [(at(11, 0), sum(durations) / 2000, Sketched(p95), max(durations))]), rows
        assert _same(rows, _raw_series(store, at(11, 0), at(11, 5)))
        (model,) = _rows(store, MODELS, TimeRange(at(11, 0), at(11, 4, 59)))
        assert model[5] == 2000 and _same([model[7:9]], [(Sketched(p50), Sketched(p95))]), model
        # Not the exact values themselves: the figures come from the sketch's buckets.
        assert (model[7], model[8]) != (p50, p95)
    finally:
        store.close()


def test_the_migration_backfills_the_sketches_and_ingest_then_adds_once(tmp_path: Path) -> None:
    """A store at migration 0013 holding the requests is upgraded: 0014 fills the rollup from its raw events,
    the per-model rollup loses its array of durations and keeps its counts, and what is written afterwards is
    counted once, by the materialized views."""
    dsn = f"chdb://{tmp_path / 'chdb'}"
    upgraded = store_at_migration(dsn, 13)
    try:
        write_requests(upgraded)
        assert upgraded.migrate() == [m.name for m in load_migrations() if m.version >= 14]
        assert _same(_rows(upgraded, LATENCY, ONE_QUARTER), SERIES)
        assert _same(_rows(upgraded, LATENCY, ONE_QUARTER, RED), RED_SERIES)
        columns = upgraded.select("SELECT name FROM system.columns WHERE table = 'model_team_hourly'")
        assert ("api_request_durations",) not in columns and ("api_requests",) in columns
        write(upgraded, events=(_api("api_request", at(10, 12), ALICE, OPUS, 2000),))
        red = _rows(upgraded, LATENCY, ONE_QUARTER, RED)
        assert _same(red, [RED_SERIES[0], (at(10, 10), 1200.0, Sketched(2000), 2000.0)]), red
        # Model comparison: Opus's 5 requests (400 800 900 1200 2000: p50 the 3rd, p95 the 5th) counted once.
        models = {row[0]: row for row in _rows(upgraded, MODELS, ONE_QUARTER)}
        assert models[OPUS][5] == 5 and models[SONNET][5] == 3
        assert _same([models[OPUS][7:9]], [(Sketched(900), Sketched(2000))]), models[OPUS]
    finally:
        upgraded.close()
