"""pytest setup for the end-to-end tests that run the real Claude Code CLI."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # lets the helpers be imported as plain modules (fake_anthropic, claude_cli, ...)
    sys.path.insert(0, str(HERE))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: runs the real Claude Code CLI (installed from npm on first use)")


@pytest.fixture(scope="session")
def claude_binary() -> Path:
    """Path of the pinned Claude Code CLI; skips the test when it can be neither found nor installed."""
    from claude_cli import CliUnavailable, find_or_install_claude

    try:
        return find_or_install_claude()
    except CliUnavailable as e:
        pytest.skip(f"Claude Code CLI unavailable: {e}")
