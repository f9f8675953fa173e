"""Fixtures of the integration tests beyond tests/conftest.py's."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.collector import CollectorProcess


@pytest.fixture
def org(request: pytest.FixtureRequest) -> str:
    """An organization of this test's own, named after it: tests sharing a collector never see each other's."""
    return "org-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")


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
