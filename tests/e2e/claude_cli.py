"""Locate/install the real Claude Code CLI and run it with ``-p`` against the fake Messages API.

* ``find_or_install_claude()`` -> path of the ``claude`` binary (pinned ``CLAUDE_CODE_VERSION``), installed with
  ``npm install --prefix <repo>/.cache/claude-code @anthropic-ai/claude-code@<version>`` on first use; the env
  variable ``CC_ANALYTICS_CLAUDE_CLI`` may name an existing binary instead. Raises ``CliUnavailable`` (use its
  message as a pytest skip reason) when neither works.
* ``run_claude(protocol, otlp_endpoint, token, ...)`` -> ``CliRun``: runs the CLI once, in a fresh HOME and
  working directory, with telemetry exported over OTLP to ``otlp_endpoint`` and the model served by a fresh
  ``fake_anthropic_api`` (or one that is passed in).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:  # both "tests.e2e.claude_cli" and plain "claude_cli" (sys.path) imports
    from .fake_anthropic import PROMPT, FakeAnthropic, fake_anthropic_api
    from .otlp_capture import otlp_capture
except ImportError:  # pragma: no cover
    from fake_anthropic import PROMPT, FakeAnthropic, fake_anthropic_api  # type: ignore
    from otlp_capture import otlp_capture  # type: ignore

CLAUDE_CODE_VERSION = "2.1.331"
NPM_PACKAGE = "@anthropic-ai/claude-code"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE_DIR = REPO_ROOT / ".cache" / "claude-code"
ENV_CLI = "CC_ANALYTICS_CLAUDE_CLI"
DUMMY_API_KEY = "sk-ant-api03-fake-e2e-key-0000000000000000000000000000000000000000"
PROTOCOLS = ("grpc", "http/protobuf", "http/json")


class CliUnavailable(RuntimeError):
    """The CLI cannot be found or installed; str(e) is a skip reason."""


def _version_of(binary: Path) -> str | None:
    try:
        out = subprocess.run(
            [str(binary), "--version"],
            capture_output=True,
            text=True,
            timeout=60,
            env=dict(os.environ, DISABLE_AUTOUPDATER="1"),
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip().split(" ")[0] if out.returncode == 0 else None


def _installed_binary(prefix: Path) -> Path | None:
    """The native binary inside an npm prefix. Prefer the platform package's binary (present even when npm
    skipped the postinstall that copies it over bin/claude.exe), then the bin link."""
    mod = prefix / "node_modules" / "@anthropic-ai"
    candidates = sorted(mod.glob("claude-code-*/claude")) if mod.is_dir() else []
    candidates += [prefix / "node_modules" / ".bin" / "claude"]
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK) and c.stat().st_size > 1_000_000:
            return c
    return None


def find_or_install_claude(cache_dir: Path | str | None = None, version: str = CLAUDE_CODE_VERSION) -> Path:
    env_bin = os.environ.get(ENV_CLI)
    if env_bin:
        p = Path(env_bin)
        if not (p.is_file() and os.access(p, os.X_OK)):
            raise CliUnavailable(f"{ENV_CLI}={env_bin} is not an executable file")
        return p
    prefix = Path(cache_dir) if cache_dir else DEFAULT_CACHE_DIR
    binary = _installed_binary(prefix)
    if binary is not None and _version_of(binary) == version:
        return binary
    npm = shutil.which("npm")
    if npm is None:
        raise CliUnavailable(f"npm not found: cannot install {NPM_PACKAGE}@{version} (or set {ENV_CLI})")
    prefix.mkdir(parents=True, exist_ok=True)
    cmd = [
        npm,
        "install",
        "--prefix",
        str(prefix),
        "--no-audit",
        "--no-fund",
        "--include=optional",
        f"{NPM_PACKAGE}@{version}",
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired as e:
        raise CliUnavailable(f"`{' '.join(cmd)}` timed out") from e
    binary = _installed_binary(prefix)
    if proc.returncode != 0 or binary is None:
        raise CliUnavailable(f"`{' '.join(cmd)}` failed (rc={proc.returncode}): {(proc.stderr or proc.stdout)[-2000:]}")
    got = _version_of(binary)
    if got != version:
        raise CliUnavailable(f"installed {binary} reports version {got!r}, expected {version}")
    return binary


@dataclass
class CliRun:
    exit_code: int
    result: dict | None  # the CLI's --output-format json object
    stdout: str
    stderr: str
    requests: list[dict]  # the fake API's request log (FakeAnthropic.request_log())
    main_replies: int  # main-loop replies the fake sent (each with fake_anthropic.USAGE)
    workdir: Path
    home: Path
    duration_s: float
    env: dict[str, str] = field(default_factory=dict)  # the variables set for the run (not the inherited ones)

    @property
    def cost(self) -> float | None:
        return None if self.result is None else self.result.get("total_cost_usd")

    @property
    def side_requests(self) -> list[dict]:
        return [r for r in self.requests if r["kind"] != "main"]


def telemetry_env(protocol: str, otlp_endpoint: str, token: str) -> dict[str, str]:
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, not {protocol!r}")
    return {
        "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_endpoint,
        "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer {token}",
        "OTEL_METRIC_EXPORT_INTERVAL": "1000",
        "OTEL_LOGS_EXPORT_INTERVAL": "500",
    }


# Variables that keep the CLI off the network except the fake API and the OTLP endpoint. None of them turns
# the OTel exporters off (verified: the CLI still exports metrics and logs with all of them set).
QUIET_ENV = {
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_BUG_COMMAND": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY": "1",
    "CLAUDE_CODE_DISABLE_TERMINAL_TITLE": "1",
    "DISABLE_INSTALLATION_CHECKS": "1",
    "CLAUDE_CODE_IDE_SKIP_AUTO_INSTALL": "1",
    "NO_PROXY": "127.0.0.1,localhost",
}

# Inherited variables that would change what the CLI does or where it sends data.
_DROP_PREFIXES = (
    "OTEL_",
    "ANTHROPIC_",
    "CLAUDE",
    "CLAUDECODE",
    "AWS_",
    "GOOGLE_",
    "VERTEX_",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "DISABLE_",
    "MCP_",
)


def base_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROP_PREFIXES)}
    env.update(
        {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "TERM": "dumb",
            "CI": env.get("CI", "true"),
        }
    )
    return env


def run_claude(
    protocol: str,
    otlp_endpoint: str,
    token: str,
    permission_mode: str = "acceptEdits",
    workdir: Path | None = None,
    *,
    prompt: str = PROMPT,
    fake: FakeAnthropic | None = None,
    binary: Path | None = None,
    timeout: float = 120.0,
    extra_env: dict[str, str] | None = None,
    base_dir: Path | None = None,
) -> CliRun:
    """Run ``claude -p`` once against the scripted fake API (a fresh one unless ``fake`` is given), with
    telemetry to ``otlp_endpoint`` over ``protocol`` (grpc | http/protobuf | http/json).

    HOME (and the workdir, unless given) are fresh directories under ``base_dir`` (e.g. pytest's tmp_path);
    without it under a new ``/tmp/cc-e2e-*`` directory, left in place for diagnostics. ``extra_env`` is
    applied last, so it can override any variable (e.g. the export intervals)."""
    binary = binary or find_or_install_claude()
    if base_dir is not None:
        Path(base_dir).mkdir(parents=True, exist_ok=True)
    tmp_root = Path(tempfile.mkdtemp(prefix="cc-e2e-", dir=base_dir))
    home = tmp_root / "home"
    home.mkdir()
    if workdir is None:
        workdir = tmp_root / "work"
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    workdir = workdir.resolve()

    def _run(api: FakeAnthropic) -> CliRun:
        set_env = {
            "ANTHROPIC_BASE_URL": api.url,
            "ANTHROPIC_API_KEY": DUMMY_API_KEY,
            **QUIET_ENV,
            **telemetry_env(protocol, otlp_endpoint, token),
            **(extra_env or {}),
        }
        env = base_env(home)
        env.update(set_env)
        cmd = [str(binary), "-p", prompt, "--output-format", "json", "--permission-mode", permission_mode]
        t0 = time.monotonic()
        try:
            proc = subprocess.run(
                cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
            )
            code, out, err = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as e:
            code = -9
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            err = (
                e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
            ) + f"\n[run_claude] timed out after {timeout}s"
        duration = time.monotonic() - t0
        result = _parse_result(out)
        return CliRun(code, result, out, err, api.request_log(), api.main_replies(), workdir, home, duration, set_env)

    if fake is not None:
        return _run(fake)
    with fake_anthropic_api(workdir=workdir) as api:
        return _run(api)


def run_captured(
    protocol: str,
    token: str,
    binary: Path,
    base_dir: Path,
    mode: str = "acceptEdits",
    *,
    forward_http: str | None = None,
    forward_grpc: str | None = None,
    **kw: Any,
) -> tuple[CliRun, list[dict]]:
    """One ``run_claude`` (``kw``: its other arguments) with telemetry to an ``otlp_capture`` (a tee to the
    ``forward_*`` receivers when given); returns the run and the capture's records, metrics and logs included."""
    with otlp_capture(forward_http=forward_http, forward_grpc=forward_grpc) as cap:
        run = run_claude(
            protocol,
            cap.endpoint_for(protocol),
            token,
            permission_mode=mode,
            binary=binary,
            timeout=90,
            base_dir=base_dir,
            **kw,
        )
        # The CLI flushes both exporters before it exits, so this normally returns at once.
        cap.wait_for(lambda r: {"/v1/metrics", "/v1/logs"} <= {x["path"] for x in r}, timeout=10)
        return run, cap.snapshot()


def _parse_result(stdout: str) -> dict | None:
    text = stdout.strip()
    if not text:
        return None
    try:
        obj: Any = json.loads(text)
    except ValueError:
        # tolerate log lines before the JSON object: take the last line that parses
        for line in reversed(text.splitlines()):
            try:
                obj = json.loads(line)
                break
            except ValueError:
                continue
        else:
            return None
    if isinstance(obj, list):  # stream-json style arrays: take the result message
        obj = next((m for m in reversed(obj) if isinstance(m, dict) and m.get("type") == "result"), None)
    return obj if isinstance(obj, dict) else None
