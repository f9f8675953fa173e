"""What every child process the tests start shares: a free loopback port, and waiting until the child answers."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_ready(
    name: str,
    process: subprocess.Popen,
    answers: Callable[[], bool],
    timeout_s: float,
    log: Callable[[], str],
    give_up: Callable[[], object],
    poll_s: float = 0.1,
) -> None:
    """Returns once `answers()` is true (a refused or failed request counts as not yet). Raises RuntimeError with
    the child's log when it exits first, or, after calling `give_up` (which ends the child), when `timeout_s`
    passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{log()}")
        try:
            if answers():
                return
        except httpx.HTTPError:
            pass
        time.sleep(poll_s)
    give_up()
    raise RuntimeError(f"{name} not ready within {timeout_s}s:\n{log()}")


def eventually(read: Callable[[], Any], expected: Any, deadline_s: float, every_s: float = 0.3) -> Any:
    """`read()` once it equals `expected`, or its last value at the deadline (for the assertion to show); an
    HTTP error while the service is busy or restarting reads as None."""
    deadline = time.monotonic() + deadline_s
    value = None
    while time.monotonic() < deadline:
        try:
            value = read()
        except httpx.HTTPError:
            value = None
        if value == expected:
            return value
        time.sleep(every_s)
    return value
