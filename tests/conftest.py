"""Fixtures of every test, and the store a run uses.

`CC_ANALYTICS_TEST_STORE=server` (make test-server, run by make test after the main suite) runs the figures
suite below on the ClickHouse server path: the session's test ClickHouse server (tests/support/clickhouse_http.py)
holds every store that would be embedded, as a database of its own per data directory (embedded_stores_on), so
every collector, restarted or not, and every store a test opens takes `storage.dsn=http://…`. Tests outside the
figures suite are deselected; the few inside it that choose their store themselves are skipped, with why.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.clickhouse_http import clickhouse_server, embedded_stores_on  # noqa: F401 (a fixture)
from tests.support.collector import CollectorProcess

INGEST_TOKEN = "ingest-test-token"
API_KEY_ID = "apikey_01TestKeyE2E"

TEST_STORE_ENV = "CC_ANALYTICS_TEST_STORE"
TEST_STORES = ("embedded", "server")

# Every test that checks figures through the API, the console, the report, the dashboards' panel queries or
# Prometheus from a known input (marked `figures`), with the console's tests of who may read them. Not in it: the
# tests of the embedded store itself (its data directory, its files, its one owning process) and of the server
# path itself (already on the test server), and checks of static files (dashboards, deploy, rules).
FIGURES_SUITE = (
    "tests/integration/test_workload_smoke.py",
    "tests/integration/test_views_semantics.py",
    "tests/integration/test_month_boundaries.py",
    "tests/integration/test_day_summaries.py",
    "tests/integration/test_retries_restarts.py",
    "tests/integration/test_cumulative_restarts.py",
    "tests/integration/test_fixture_replay.py",
    "tests/integration/test_prometheus_exporter.py",
    "tests/integration/test_tenancy.py",
    "tests/integration/test_poisoned_values.py",
    "tests/integration/test_privacy.py",
    "tests/integration/test_kept_answers.py",
    "tests/console/",
    "tests/dashboards/test_clickhouse_panels.py",
    "tests/dashboards/test_prometheus_queries.py",
    "tests/e2e/test_collector_e2e.py",
)
# Tests of the figures suite not run again on the server path, and why.
NOT_ON_THE_SERVER: dict[str, str] = {
    "tests/console/test_store_outage.py": "it runs a ClickHouse server of its own, to stop it",
    "tests/console/test_access.py": "principals, roles and tokens: the access file, no figure from the store",
    "tests/console/test_hardening.py": "the console's HTTP hardening (headers, CSRF, limits): no figure from the store",
}


# Tests that need the machine to themselves, marked `solo`: `make test` runs the others in several processes
# (pytest-xdist), then these alone. Each offers load and requires nothing refused or only what its budget
# refuses, holds connections or calls against a cap, kills the collector mid-drain, or waits on the real Claude
# Code CLI's last export at its exit, which the CLI gives up on a machine busy with other tests.
SOLO = (
    "tests/bench/",
    "tests/e2e/",
    "tests/integration/test_overload.py",
    "tests/integration/test_stalled_clients.py",
    "tests/integration/test_grpc_call_cap.py",
    "tests/integration/test_durable_queue.py",
    "tests/integration/test_kills_under_load.py",
)


def store_of_the_run() -> str:
    store = os.environ.get(TEST_STORE_ENV, "").strip() or "embedded"
    if store not in TEST_STORES:
        raise pytest.UsageError(f"{TEST_STORE_ENV}={store!r}: expected one of {', '.join(TEST_STORES)}")
    return store


def pytest_configure(config: pytest.Config) -> None:
    store_of_the_run()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    on_the_server = store_of_the_run() == "server"
    kept: list[pytest.Item] = []
    deselected: list[pytest.Item] = []
    for item in items:
        in_suite = item.nodeid.startswith(FIGURES_SUITE)
        if in_suite:
            item.add_marker(pytest.mark.figures)
        if item.nodeid.startswith(SOLO):
            item.add_marker(pytest.mark.solo)
        # Deselected, not skipped: they ran in the main run, and a server run shows nothing skipped.
        left_out = any(item.nodeid.startswith(prefix) for prefix in NOT_ON_THE_SERVER)
        if on_the_server and (left_out or not in_suite):
            deselected.append(item)
            continue
        kept.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.fixture(scope="session", autouse=True)
def _stores_of_the_run(request: pytest.FixtureRequest) -> Iterator[None]:
    """With CC_ANALYTICS_TEST_STORE=server, every store of the run is a database of the test ClickHouse server."""
    if store_of_the_run() != "server":
        yield
        return
    with embedded_stores_on(request.getfixturevalue("clickhouse_server")):
        yield


@pytest.fixture
def tokens_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokens.yaml"
    path.write_text(
        "tokens:\n"
        f"  - token: {INGEST_TOKEN}\n"
        "    name: e2e\n"
        f"    api_key_id: {API_KEY_ID}\n"
        "    organization_id: org-test\n"
    )
    return path


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorProcess]:
    """A running collector, open (no tokens), on free loopback ports and a fresh store."""
    process = CollectorProcess(data_dir=tmp_path / "data").start()
    yield process
    process.kill()


@pytest.fixture
def keyed_collector(tmp_path: Path, tokens_file: Path) -> Iterator[CollectorProcess]:
    """A running collector that requires the ingest token bound to API key API_KEY_ID in org `org-test`."""
    process = CollectorProcess(data_dir=tmp_path / "data", tokens_file=tokens_file).start()
    yield process
    process.kill()
