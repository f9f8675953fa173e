"""Collector processes for fixtures: started, and SIGKILLed when the fixture or the test ends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support.collector import CollectorProcess


def running(process: CollectorProcess) -> Iterator[CollectorProcess]:
    """For a fixture (`yield from running(...)`): the collector started, SIGKILLed when the fixture ends."""
    yield process.start()
    process.kill()


def start_on(started: list[CollectorProcess], data_dir: Path, **env: str) -> CollectorProcess:
    """A collector on `data_dir` with the options `env` (CC_ANALYTICS_…), killed with the `started` fixture's."""
    process = CollectorProcess(data_dir=data_dir, extra_env=env).start()
    started.append(process)
    return process


def restart(started: list[CollectorProcess], data_dir: Path, how: str) -> CollectorProcess:
    """Ends the last collector of `started` (`how`: sigkill, or sigterm and a clean exit), then starts one on
    `data_dir` again."""
    current = started[-1]
    if how == "sigkill":
        current.kill()
        assert current.process is not None and current.process.returncode == -9
    else:
        assert current.stop() == 0, current.log()
    return start_on(started, data_dir)


def running_with_token(folder: Path, token: str, **options: Any) -> Iterator[CollectorProcess]:
    """`running`, for a collector on `folder`/data whose only ingest token is `token`; `options` are the rest of
    CollectorProcess's arguments."""
    return running(CollectorProcess(data_dir=folder / "data", tokens_file=one_token(folder, token), **options))


def one_token(folder: Path, token: str) -> Path:
    """A tokens file in `folder` listing `token` (named tests) as the only ingest token."""
    path = folder / "tokens.yaml"
    path.write_text(f"tokens:\n  - token: {token}\n    name: tests\n")
    return path
