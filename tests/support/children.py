"""What every child process the tests start shares: a free loopback port, and waiting until the child answers."""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import time
from collections.abc import Callable
from typing import Any

import httpx

# Ports handed to children come from a range below the kernel's ephemeral range (32768-60999 on Linux), split
# into one slice per test process. A port the kernel picked (bind to 0, then release) can be picked again at once
# by another test process or by any outgoing connection, so a collector restarted on its ports would find one
# taken; a slice of its own is reused only by the process that owns it.
PORT_RANGE = (16000, 32000)
PORT_SLICE = 1600


def _slice_index() -> int:
    """0 for a run in one process; 1 + the pytest-xdist worker number (gw0, gw1, ...) otherwise."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and worker[2:].isdigit():
        return 1 + int(worker[2:]) % (((PORT_RANGE[1] - PORT_RANGE[0]) // PORT_SLICE) - 1)
    return 0


def _slice_ports() -> itertools.cycle[int]:
    start = PORT_RANGE[0] + _slice_index() * PORT_SLICE
    ports = range(start, start + PORT_SLICE)
    # A process a test starts (a bench script running collectors of its own) inherits the slice: starting at a
    # place of its own in it keeps it off the ports its parent handed out first.
    offset = os.getpid() % PORT_SLICE
    return itertools.cycle([*ports[offset:], *ports[:offset]])


_ports = _slice_ports()


def _can_listen(port: int) -> bool:
    with socket.socket() as sock:
        # The children's servers set SO_REUSEADDR too, so a port whose last connection is in TIME_WAIT counts free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A loopback port nothing listens on, from this test process's own slice (the next one not in use)."""
    for _ in range(PORT_SLICE):
        port = next(_ports)
        if _can_listen(port):
            return port
    raise RuntimeError(f"no free port in this test process's slice of {PORT_RANGE} (slice {_slice_index()})")


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


def wait_for(
    condition: Callable[[], bool], what: str | Callable[[], str], timeout_s: float = 30, interval_s: float = 0.1
) -> None:
    """Return once `condition()` holds, asking every `interval_s`; fail with `what` (or what `what()` says of the
    last state seen) if it does not within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(what() if callable(what) else what)
        time.sleep(interval_s)
