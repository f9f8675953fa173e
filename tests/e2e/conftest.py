"""pytest setup for the end-to-end tests that run the real Claude Code CLI."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REQUIRE_E2E_ENV = "CC_ANALYTICS_REQUIRE_E2E"  # set (to 1) in CI: an unavailable CLI fails instead of skipping
if str(HERE) not in sys.path:  # lets the helpers be imported as plain modules (fake_anthropic, claude_cli, ...)
    sys.path.insert(0, str(HERE))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: runs the real Claude Code CLI (installed from npm on first use)")


@pytest.fixture(scope="session")
def claude_binary() -> Path:
    """Path of the pinned Claude Code CLI; skips the test when it can be neither found nor installed, or fails
    it when ``CC_ANALYTICS_REQUIRE_E2E`` is set (CI sets it to 1: there, a skipped end-to-end test is a failure)."""
    from claude_cli import CliUnavailable, find_or_install_claude

    try:
        return find_or_install_claude()
    except CliUnavailable as e:
        reason = f"Claude Code CLI unavailable: {e}"
    if os.environ.get(REQUIRE_E2E_ENV, "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"{reason} ({REQUIRE_E2E_ENV} is set: the end-to-end tests must run)", pytrace=False)
    pytest.skip(reason)
