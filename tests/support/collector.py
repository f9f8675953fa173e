"""Run the real collector (`python -m collector run`) as a child process on free loopback ports."""

from __future__ import annotations

import hashlib
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from pdata.vocabulary import DURABLE_QUEUE_BYTES
from tests.support.children import free_port, wait_for, wait_until_ready

REPO_ROOT = Path(__file__).resolve().parents[2]

# The console principal every test's API calls use (role Admin may read analytics). The collector reads
# the access file at <data_dir>/access.yaml by default; start() writes it when absent.
CONSOLE_TOKEN = "cca_test-admin-token"
CONSOLE_ROLE = "admin"


# How long a new series (and every counter after start-up) is held at 0 on the test collectors' /metrics.
METRICS_HOLD_SECONDS = 2

# The store of every collector started here: empty means its embedded store in its data_dir. The fixtures of
# tests/support/clickhouse_http.py set a database of the test ClickHouse server, to run a suite on that path:
# one DSN for every collector, or a function of the directory where a collector's embedded store would live.
STORE_DSN: str | Callable[[Path], str] = ""


def samples_of(metrics_text: str, name: str, /, **labels: str) -> list[Sample]:
    """The samples of a /metrics text named `name` (a counter's with its `_total`) whose labels include `labels`,
    read by prometheus_client's parser, the way a scraper reads them (label values unescaped)."""
    return [
        sample
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    ]


def sum_of(metrics_text: str, name: str, /, **labels: str) -> float:
    """The sum of the samples `samples_of` finds; 0 when there are none (a labelled counter's series appears only
    once it is first counted)."""
    return sum(sample.value for sample in samples_of(metrics_text, name, **labels))


def write_access_file(path: Path, principals: list[tuple[str, str, str]]) -> None:
    """principals: (name, role slug, token). Stores only the tokens' SHA-256, as the CLI does."""
    lines = ["principals:"]
    for index, (name, role, token) in enumerate(principals):
        lines += [
            f"  - id: p_test{index}",
            f"    name: {name}",
            f"    role: {role}",
            f"    sha256: {hashlib.sha256(token.encode()).hexdigest()}",
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


@dataclass
class CollectorProcess:
    data_dir: Path
    tokens_file: Path | None = None
    directory_file: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    # Flags after `run`, e.g. ["--workers", "2"].
    extra_args: list[str] = field(default_factory=list)
    # RLIMIT_NOFILE (soft and hard) of the collector process, e.g. 1024 as systemd's default soft limit.
    file_limit: int | None = None
    grpc_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    ready_at: float = 0.0

    @property
    def otlp_http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def otlp_grpc_url(self) -> str:
        return f"http://127.0.0.1:{self.grpc_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def environment(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("CC_ANALYTICS_")}
        env.update(
            {
                "CC_ANALYTICS_BIND": "127.0.0.1",
                "CC_ANALYTICS_OTLP_GRPC_PORT": str(self.grpc_port),
                "CC_ANALYTICS_OTLP_HTTP_PORT": str(self.http_port),
                "CC_ANALYTICS_API_PORT": str(self.api_port),
                "CC_ANALYTICS_METRICS_PORT": str(self.metrics_port),
                "CC_ANALYTICS_DATA_DIR": str(self.data_dir),
                "CC_ANALYTICS_LOG_LEVEL": "info",
                # The tests' Prometheus scrapes every second: a 2 s hold shows every new series at 0 first.
                "CC_ANALYTICS_METRICS_NEW_SERIES_HOLD_SECONDS": str(METRICS_HOLD_SECONDS),
            }
        )
        if self.tokens_file:
            env["CC_ANALYTICS_AUTH_TOKENS_FILE"] = str(self.tokens_file)
        if self.directory_file:
            env["CC_ANALYTICS_IDENTITY_DIRECTORY_FILE"] = str(self.directory_file)
        if STORE_DSN:
            env["CC_ANALYTICS_STORAGE_DSN"] = STORE_DSN(self.data_dir / "chdb") if callable(STORE_DSN) else STORE_DSN
        env.update(self.extra_env)
        return env

    def start(self, timeout_s: float = 60.0) -> CollectorProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        access_file = self.data_dir / "access.yaml"
        if not access_file.exists() and "CC_ANALYTICS_CONSOLE_ACCESS_FILE" not in self.extra_env:
            write_access_file(access_file, [("test-admin", CONSOLE_ROLE, CONSOLE_TOKEN)])
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-collector.log"
        with self.log_path.open("ab") as log_file:  # the child writes to its own copy of the descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-m", "collector", "run", *self.extra_args],
                cwd=REPO_ROOT,
                env=self.environment(),
                stdout=log_file,
                stderr=subprocess.STDOUT,
                preexec_fn=self._limit_files if self.file_limit else None,
            )
        wait_until_ready("collector", self.process, self._ready, timeout_s, self.log, self.kill)
        self.ready_at = time.monotonic()
        return self

    def _ready(self) -> bool:
        return httpx.get(f"{self.api_url}/readyz", timeout=1).status_code == 200

    def _limit_files(self) -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.file_limit, self.file_limit))

    def metrics_text(self, drained: bool = True) -> str:
        """/metrics once the start-up hold is over (before it, every counter reads 0) and, unless `drained` is
        False (a test watching the durable queue itself), once every request acknowledged before the call is in
        the store (see `drained`)."""
        time.sleep(max(0.0, self.ready_at + METRICS_HOLD_SECONDS - time.monotonic()))
        if not drained:
            return httpx.get(self.metrics_url, timeout=10).text
        return self._drained_metrics_text()

    def drained(self) -> None:
        """Wait until every request acknowledged so far is in the store. With the durable queue (queue.mode=wal,
        the default) a request is acknowledged once it is on disk and drained into the store within
        queue.drain_interval_ms; the tests read what a sender was told is kept. The queue's bytes waiting
        (`cc_analytics_queue_bytes`) go back to 0 only once the store has every drained record and the
        pipeline has counted it; with queue.mode=memory they are always 0 (the store had it before the answer)."""
        self._drained_metrics_text()

    def _drained_metrics_text(self, timeout_s: float = 60.0) -> str:
        # Every API read in the suite passes through here, so it asks often.
        text = ""

        def queue_bytes() -> list[Sample]:
            return samples_of(text, DURABLE_QUEUE_BYTES.name)

        def queue_empty() -> bool:
            nonlocal text
            response = httpx.get(self.metrics_url, timeout=10)
            assert response.status_code == 200, f"/metrics answered {response.status_code}: {response.text[:200]}"
            text = response.text
            return all(sample.value == 0 for sample in queue_bytes())

        wait_for(
            queue_empty,
            lambda: f"the durable queue still holds {queue_bytes()[0].value:.0f} bytes after {timeout_s} s",
            timeout_s,
            interval_s=0.02,
        )
        return text

    def metric_samples(self, name: str, /, drained: bool = True, **labels: str) -> list[Sample]:
        """The samples of /metrics named `name` whose labels include `labels` (see `samples_of`; `drained` as for
        `metrics_text`)."""
        return samples_of(self.metrics_text(drained), name, **labels)

    def metric_sum(self, name: str, /, drained: bool = True, **labels: str) -> float:
        """The sum of the samples of /metrics named `name` whose labels include `labels` (see `sum_of`; `drained` as
        for `metrics_text`)."""
        return sum_of(self.metrics_text(drained), name, **labels)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM and wait: the collector flushes what it acknowledged and exits 0."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def kill(self) -> None:
        """SIGKILL: no chance to flush anything."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def worker_pids(self) -> set[int]:
        """The collector's receiver worker processes (`--workers`) now."""
        assert self.process is not None
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return {int(child) for child in children if b"collector.workers" in Path(f"/proc/{child}/cmdline").read_bytes()}

    def api_get(self, path: str, **params: str) -> httpx.Response:
        """GET on the read API (with whatever credentials the API needs), once every request acknowledged before
        the call is in the store (`drained`)."""
        self.drained()
        return httpx.get(f"{self.api_url}{path}", params=params, headers=self.api_headers(), timeout=30)

    def api_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {CONSOLE_TOKEN}"}

    def analytics(self, start: date | str, end: date | str, **params: str) -> dict[str, Any]:
        response = self.api_get("/api/v1/analytics", start=str(start), end=str(end), **params)
        response.raise_for_status()
        return response.json()

    def team(self, month: str, **params: str) -> dict[str, Any]:
        response = self.api_get("/api/v1/team", month=month, **params)
        response.raise_for_status()
        return response.json()


def process_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, exited but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
