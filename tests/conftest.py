from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.collector import CollectorProcess

INGEST_TOKEN = "ingest-test-token"
API_KEY_ID = "apikey_01TestKeyE2E"


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
