"""A file system of a few hundred KiB mounted for a test, so that a disk fills up for real (ENOSPC from the
kernel, as on a full volume), not through a stand-in of the collector's file calls."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.prometheus import REQUIRE_ENV


@contextmanager
def small_disk(path: Path, size_bytes: int) -> Iterator[Path]:
    """A tmpfs of `size_bytes` mounted at `path` (made if absent), unmounted after. Mounting needs root: where it
    is refused the test is skipped, or fails under CC_ANALYTICS_REQUIRE_E2E=1 (CI, which runs as root)."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size_bytes},mode=0700"
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True, check=False
    )
    if mounted.returncode != 0:
        reason = f"a file system of {size_bytes} bytes cannot be mounted here (needs root): {mounted.stderr.strip()}"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield path
    finally:
        # Lazily: a collector killed moments before may still hold a descriptor in it.
        subprocess.run(["umount", "--lazy", str(path)], capture_output=True, check=False)
