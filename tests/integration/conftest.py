"""Fixtures of the integration tests beyond tests/conftest.py's."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporters.clickhouse import ClickHouseConfig, ClickHouseStore, create_store
from tests.support.clickhouse_http import ClickHouseHttpServer
from tests.support.collector import CollectorProcess


@pytest.fixture
def org(request: pytest.FixtureRequest) -> str:
    """An organization of this test's own, named after it: tests sharing a collector never see each other's."""
    return "org-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ClickHouseStore]:
    """An embedded store of the test's own (a database of the test server with CC_ANALYTICS_TEST_STORE=server).
    chDB allows one data path per process at a time: it is closed before the next test opens its own."""
    opened = create_store(ClickHouseConfig(dsn=f"chdb://{tmp_path / 'chdb'}"))
    yield opened
    opened.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def started() -> Iterator[list[CollectorProcess]]:
    """Every collector a test starts; all are SIGKILLed at the end (a no-op for stopped ones)."""
    processes: list[CollectorProcess] = []
    yield processes
    for process in processes:
        process.kill()


@pytest.fixture
def shared_store(clickhouse_server: ClickHouseHttpServer) -> Iterator[tuple[ClickHouseStore, str]]:
    """A store on a fresh database of the session's test ClickHouse server, and its DSN, for replicas to share."""
    dsn = clickhouse_server.dsn(clickhouse_server.new_database("shared"))
    store = create_store(ClickHouseConfig(dsn=dsn))
    yield store, dsn
    store.close()
