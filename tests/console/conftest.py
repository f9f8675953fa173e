from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from console.roles import ROLES
from tests.console.workload import send_workload, tokens_yaml
from tests.support.collector import CONSOLE_TOKEN, CollectorProcess, write_access_file


def role_token(role: str) -> str:
    return f"cca_role-token-{role}"


@pytest.fixture(scope="package")
def console_collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    """One collector for the console tests: a principal of each of the eight roles, the known workload."""
    root = tmp_path_factory.mktemp("console")
    tokens = root / "tokens.yaml"
    tokens.write_text(tokens_yaml())
    data_dir = root / "data"
    write_access_file(
        data_dir / "access.yaml",
        [("test-admin", "admin", CONSOLE_TOKEN)] + [(f"{role}@example.com", role, role_token(role)) for role in ROLES],
    )
    # The workload backfills 50 days of history, older than the default accepted time window (35 days).
    history = {"CC_ANALYTICS_VALIDATION_MAX_AGE_DAYS": "100", "CC_ANALYTICS_TEMPORALITY_STATE_DAYS": "100"}
    process = CollectorProcess(data_dir=data_dir, tokens_file=tokens, extra_env=history).start()
    try:
        send_workload(process)
        yield process
    finally:
        process.kill()


@pytest.fixture(scope="package")
def output_dir() -> Path:
    path = Path(__file__).resolve().parents[2] / "test-output" / "console"
    path.mkdir(parents=True, exist_ok=True)
    return path
