from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "image_install: installs the project into a fresh virtualenv as the Docker image does (1-2 min)"
    )
