"""A real Prometheus server (the Debian `prometheus` binary) for tests, scraping collectors every second.

Usage::

    from tests.support.prometheus import PrometheusServer

    with PrometheusServer(targets=[collector.metrics_url], workdir=tmp_path / "prom",
                          rules_files=[Path("dashboards/prometheus/rules.yml")]) as prom:
        workload.send_json(collector.otlp_http_url, "delta")
        prom.wait_for_scrape()                       # a scrape that started after this call has completed
        prom.query('sum(claude_code_cost_usage_USD_total)')   # -> [({}, 0.875)]
        prom.value('sum(claude_code_cost_usage_USD_total)')   # -> 0.875 (exactly one result, else error)
        prom.query('sum by (type) (claude_code_token_usage_tokens_total)')
                                                     # -> [({'type': 'input'}, 1500.0), ({'type': 'output'}, 200.0)]

- `PrometheusServer(...)` starts nothing; `start()` (or `with`) writes prometheus.yml into `workdir`, starts the
  binary on a free 127.0.0.1 port with its TSDB in `workdir/data`, and waits until it is ready. It skips the
  calling test when the binary is absent, or fails it when CC_ANALYTICS_REQUIRE_E2E=1 (CI).
- targets are URLs of /metrics endpoints (`CollectorProcess.metrics_url`); every one is scraped every
  `scrape_interval` (1s) under job `job` ("cc-analytics"), its own `instance` label being host:port.
- rules_files are loaded as `rule_files` (recording and alerting rules evaluated every second);
  `rules()` and `alerts()` return what the HTTP API reports about them.
- `query(expr)` evaluates an instant query through /api/v1/query and returns [(labels, value)], labels a
  dict (with `__name__` when the result keeps it), value a float; a scalar gives [({}, value)]; a PromQL
  error raises PrometheusQueryError with Prometheus's message. `query_range` returns [(labels, [(t, v)])].
- `wait_for_scrape()` waits until every target has been scraped successfully by a scrape that started after
  the call plus `settle` seconds (by default the collectors' new-series hold, so it shows what was committed); `wait_for(expr, expected)` polls until `value(expr) == expected`.
- `stop()` (or leaving `with`) terminates the server; its log is `workdir/prometheus.log` (`log()`).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from tests.support.children import free_port, wait_until_ready
from tests.support.collector import METRICS_HOLD_SECONDS

REQUIRE_ENV = "CC_ANALYTICS_REQUIRE_E2E"

Labels = dict[str, str]


class PrometheusQueryError(AssertionError):
    """Prometheus refused a query (bad PromQL, wrong result type, ...)."""


def _binary(name: str) -> str:
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path:
        return path
    reason = (
        f"the `{name}` binary is not installed (Debian package `prometheus`; `.ci/run` installs it). "
        f"Set {REQUIRE_ENV}=1 to make this a failure."
    )
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def prometheus_binary() -> str:
    """Path of `prometheus`; skips (or fails under CC_ANALYTICS_REQUIRE_E2E=1) when it is absent."""
    return _binary("prometheus")


def promtool_binary() -> str:
    """Path of `promtool`; skips (or fails under CC_ANALYTICS_REQUIRE_E2E=1) when it is absent."""
    return _binary("promtool")


def _timestamp(text: str) -> float:
    # RFC 3339 with up to nanoseconds; Python's parser takes microseconds.
    match = re.match(r"^(.*?\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", text)
    if not match:
        return 0.0
    base, fraction, zone = match.groups()
    parsed = datetime.fromisoformat(base + (zone if zone != "Z" else "+00:00"))
    return parsed.timestamp() + (float("0." + fraction) if fraction else 0.0)


def _number(text: str) -> float:
    return float(text)  # Prometheus encodes values as strings: "1.5", "NaN", "+Inf"


class PrometheusServer:
    def __init__(
        self,
        targets: Sequence[str],
        workdir: Path,
        rules_files: Sequence[Path] = (),
        scrape_interval: str = "1s",
        job: str = "cc-analytics",
        external_labels: dict[str, str] | None = None,
        credentials_file: Path | None = None,
    ) -> None:
        self.targets = list(targets)
        self.workdir = Path(workdir)
        self.rules_files = [Path(path).resolve() for path in rules_files]
        self.scrape_interval = scrape_interval
        self.job = job
        # Distinct external labels give a second server another scrape phase (Prometheus seeds its scrape
        # offsets with them), as a pair of HA replicas have.
        self.external_labels = dict(external_labels or {})
        # A bearer token file sent with every scrape (a collector with metrics.scrape_token_file).
        self.credentials_file = credentials_file
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self._client = httpx.Client(base_url=self.url, timeout=10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- lifecycle ------------------------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        by_path: dict[tuple[str, str], list[str]] = {}
        for target in self.targets:
            parts = urlsplit(target)
            by_path.setdefault((parts.scheme or "http", parts.path or "/metrics"), []).append(parts.netloc)
        return {
            "global": {
                "scrape_interval": self.scrape_interval,
                "scrape_timeout": self.scrape_interval,
                "evaluation_interval": self.scrape_interval,
                **({"external_labels": self.external_labels} if self.external_labels else {}),
            },
            "rule_files": [str(path) for path in self.rules_files],
            "scrape_configs": [
                {
                    "job_name": self.job if index == 0 else f"{self.job}-{index}",
                    "scheme": scheme,
                    "metrics_path": path,
                    "static_configs": [{"targets": netlocs}],
                    **(
                        {"authorization": {"type": "Bearer", "credentials_file": str(self.credentials_file)}}
                        if self.credentials_file
                        else {}
                    ),
                }
                for index, ((scheme, path), netlocs) in enumerate(by_path.items())
            ],
        }

    def start(self, timeout_s: float = 30.0) -> PrometheusServer:
        binary = prometheus_binary()
        self.workdir.mkdir(parents=True, exist_ok=True)
        config_path = self.workdir / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        with (self.workdir / "prometheus.log").open("ab") as log_file:  # the child writes to its own copy
            self.process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config_path}",
                    f"--storage.tsdb.path={self.workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--storage.tsdb.retention.time=1d",
                    "--log.level=warn",
                ],
                cwd=self.workdir,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        wait_until_ready(
            "prometheus", self.process, lambda: self._client.get("/-/ready").status_code == 200, timeout_s, self.log,
            self.stop,
        )  # fmt: skip
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._client.close()

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log(self) -> str:
        path = self.workdir / "prometheus.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- HTTP API -------------------------------------------------------------------------------------------

    def _api(self, path: str, **params: Any) -> Any:
        response = self._client.get(f"/api/v1/{path}", params=params)
        try:
            document = response.json()
        except ValueError:
            raise PrometheusQueryError(f"{path}: HTTP {response.status_code}: {response.text[:500]}") from None
        if document.get("status") != "success":
            raise PrometheusQueryError(f"{path} {params}: {document.get('errorType')}: {document.get('error')}")
        return document["data"]

    def query(self, expr: str, at: float | None = None) -> list[tuple[Labels, float]]:
        """Instant query: [(labels, value)] for a vector, [({}, value)] for a scalar."""
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = at
        data = self._api("query", **params)
        kind, result = data["resultType"], data["result"]
        if kind == "vector":
            return [(dict(item["metric"]), _number(item["value"][1])) for item in result]
        if kind == "scalar":
            return [({}, _number(result[1]))]
        raise PrometheusQueryError(f"{expr!r} gives a {kind}, not an instant vector or scalar: use query_range")

    def value(self, expr: str) -> float:
        """The single value of an expression that gives exactly one series (or a scalar)."""
        result = self.query(expr)
        if len(result) != 1:
            raise PrometheusQueryError(f"{expr!r} gives {len(result)} series, expected one: {result}")
        return result[0][1]

    def values(self, expr: str, by: str | Sequence[str]) -> dict[Any, float]:
        """{label value (or tuple of values): value}, e.g. values('sum by (type) (x)', 'type')."""
        names = [by] if isinstance(by, str) else list(by)
        out: dict[Any, float] = {}
        for labels, value in self.query(expr):
            key = tuple(labels.get(name, "") for name in names)
            out[key[0] if isinstance(by, str) else key] = value
        return out

    def query_range(
        self, expr: str, start: float, end: float, step: float = 1.0
    ) -> list[tuple[Labels, list[tuple[float, float]]]]:
        data = self._api("query_range", query=expr, start=start, end=end, step=step)
        return [(dict(item["metric"]), [(float(t), _number(v)) for t, v in item["values"]]) for item in data["result"]]

    def range_samples(self, selector: str, at: float) -> list[tuple[Labels, list[tuple[float, float]]]]:
        """The raw samples of a range selector (`metric{...}[60s]`) at time `at`: [(labels, [(t, v)])]."""
        data = self._api("query", query=selector, time=at)
        if data["resultType"] != "matrix":
            raise PrometheusQueryError(f"{selector!r} gives a {data['resultType']}, not a range vector")
        return [(dict(item["metric"]), [(float(t), _number(v)) for t, v in item["values"]]) for item in data["result"]]

    def last_scrape_time(self) -> float:
        """The timestamp of the latest scrape of this server's job (a sample time of every series it exposed)."""
        return self.value(f'max(timestamp(up{{job="{self.job}"}}))')

    def targets_status(self) -> list[dict[str, Any]]:
        return self._api("targets")["activeTargets"]

    def rules(self) -> list[dict[str, Any]]:
        """The rule groups Prometheus loaded (each with its rules, their health and lastError)."""
        return self._api("rules")["groups"]

    def alerts(self) -> list[dict[str, Any]]:
        """Active alerts (pending or firing), each with labels, annotations and state."""
        return self._api("alerts")["alerts"]

    # -- waiting --------------------------------------------------------------------------------------------

    def wait_for_scrape(self, timeout_s: float = 30.0, settle: float = METRICS_HOLD_SECONDS + 0.1) -> None:
        """Wait until every target was scraped successfully by a scrape that began after this call + settle
        (by default past the collectors' hold, so the scrape shows every series committed before the call).

        `settle` is measured on the monotonic clock, as the collectors measure their hold, and only then turned
        into the wall time Prometheus stamps its scrapes with: when the machine is paused (a suspended VM) the
        wall clock jumps past the pause on resume and the monotonic clock does not, so a wall-clock settle would
        accept a scrape that began before the collectors' hold had ended."""
        settled = time.monotonic() + settle
        while (left := settled - time.monotonic()) > 0:
            time.sleep(min(left, 0.5))
        after = time.time()
        deadline = time.monotonic() + timeout_s
        last: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            last = self.targets_status()
            if (
                len(last) >= len(self.targets)
                and all(target["health"] == "up" and _timestamp(target["lastScrape"]) > after for target in last)
                and self._scrapes_queryable(after)
            ):
                return
            time.sleep(0.1)
        raise TimeoutError(f"targets not scraped within {timeout_s}s: {last}\n{self.log()}")

    def _scrapes_queryable(self, after: float) -> bool:
        """Whether every target's scrape that began after `after` can be queried. Prometheus marks a target
        scraped (its lastScrape) before it commits what that scrape appended, so a query at once may still miss it;
        the scrape's own `up` sample, stamped with the scrape's start (to the millisecond), is committed with it."""
        stamps = [stamp for _, stamp in self.query("timestamp(up)")]
        return len(stamps) >= len(self.targets) and all(stamp * 1000 >= math.floor(after * 1000) for stamp in stamps)

    def wait_for_rules(self, timeout_s: float = 30.0) -> None:
        """Wait until every loaded rule has been evaluated at least once after this call."""
        after = time.time()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            rules = [rule for group in self.rules() for rule in group["rules"]]
            if all(_timestamp(rule.get("lastEvaluation", "")) > after for rule in rules):
                return
            time.sleep(0.1)
        raise TimeoutError(f"rules not evaluated within {timeout_s}s")

    def wait_for(
        self, expr: str, expected: float | Callable[[list[tuple[Labels, float]]], bool], timeout_s: float = 30.0
    ) -> list[tuple[Labels, float]]:
        """Poll until `value(expr) == expected` (or `expected(query(expr))` is true); returns the last result."""
        deadline = time.monotonic() + timeout_s
        result: list[tuple[Labels, float]] = []
        while time.monotonic() < deadline:
            result = self.query(expr)
            if callable(expected):
                if expected(result):
                    return result
            elif len(result) == 1 and result[0][1] == expected:
                return result
            time.sleep(0.2)
        raise TimeoutError(f"{expr!r} never gave {expected!r}; last result: {result}")


# --- promtool test rules, side by side ---------------------------------------------------------------------------

_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def _seconds(duration: str) -> float:
    """A Prometheus duration (`90m`, `1h30m`, `26910m`) in seconds."""
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w|y)", duration)
    if not parts or "".join(number + unit for number, unit in parts) != duration:
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    return sum(int(number) * _DURATION_UNITS[unit] for number, unit in parts)


def _evaluated_span(group: dict[str, Any]) -> float:
    """How far promtool evaluates a test group: to its last eval_time, which its cost grows with."""
    cases = [*group.get("alert_rule_test", []), *group.get("promql_expr_test", [])]
    return max((_seconds(case["eval_time"]) for case in cases), default=0.0)


def run_rule_tests(
    test_files: Sequence[Path], workdir: Path, keep: Callable[[dict[str, Any]], bool] = lambda group: True
) -> list[subprocess.CompletedProcess[str]]:
    """`promtool test rules` on the test groups of `test_files`, each file's groups dealt into one file per core,
    all run side by side. promtool evaluates its groups one after another on one core, and the weekly alerts'
    groups evaluate weeks of rules every few minutes (about a minute of CPU in all); each group starts from an
    empty store, so splitting the files changes no result. Only the groups `keep` takes are run (a file left
    without any is not). Every returned run must exit 0 with one SUCCESS."""
    workdir.mkdir(parents=True, exist_ok=True)
    processes = []
    for path in test_files:
        document = yaml.safe_load(path.read_text())
        settings = {key: value for key, value in document.items() if key != "tests"}
        settings["rule_files"] = [str((path.parent / name).resolve()) for name in document.get("rule_files", [])]
        groups = [group for group in document["tests"] if keep(group)]
        # Longest first onto the least loaded file, so the runs end about together.
        chunks: list[tuple[float, list[dict[str, Any]]]] = [
            (0.0, []) for _ in range(min(os.cpu_count() or 1, len(groups)))
        ]
        for group in sorted(groups, key=_evaluated_span, reverse=True):
            index = min(range(len(chunks)), key=lambda i: chunks[i][0])
            load, members = chunks[index]
            chunks[index] = (load + _evaluated_span(group), [*members, group])
        for number, (_, members) in enumerate(chunks):
            chunk_file = workdir / f"{path.stem}-{number}.yml"
            chunk_file.write_text(yaml.safe_dump({**settings, "tests": members}, sort_keys=False))
            command = [promtool_binary(), "test", "rules", chunk_file.name]
            processes.append(
                subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            )
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    return results
