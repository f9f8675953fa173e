"""Run the real Claude Code CLI (-p) against the scripted fake Messages API and an independent OTLP sink, over
each OTLP protocol, and check the exact figures it reports.

Expected figures are derived from the fake's request log, not hard-coded: ``n`` = number of main-loop replies
the fake actually sent (3 for this script: Write, Edit, final text). Each reply carries
``fake_anthropic.USAGE`` (1200 input, 150 output, 3000 cache-read, 500 cache-creation tokens), so the CLI must
report n x those tokens, and a cost of n x the per-reply cost it states on each ``api_request`` event, which
must also equal ``total_cost_usd`` in its own JSON result.

Run: ``/work/main/.venv/bin/python -m pytest tests/e2e/test_cli_capture.py -m e2e``
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

try:
    from .claude_cli import CLAUDE_CODE_VERSION, PROTOCOLS, CliRun, run_captured
    from .fake_anthropic import FILE_AFTER_EDIT, FILE_NAME, SCRIPT, USAGE
    from .otlp_capture import Summary, load_jsonl, summarize
except ImportError:  # tests/e2e on sys.path (conftest.py puts it there)
    from claude_cli import CLAUDE_CODE_VERSION, PROTOCOLS, CliRun, run_captured
    from fake_anthropic import FILE_AFTER_EDIT, FILE_NAME, SCRIPT, USAGE
    from otlp_capture import Summary, load_jsonl, summarize

TOKEN = "ingest-test-token"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TOKEN_TYPES = ("input", "output", "cacheRead", "cacheCreation")
REQUIRED_EVENTS = {"user_prompt", "api_request", "tool_decision", "tool_result"}


def _run_and_capture(
    protocol: str, binary: Path, base_dir: Path, mode: str = "acceptEdits", **kw
) -> tuple[CliRun, Summary, list]:
    run, records = run_captured(protocol, TOKEN, binary, base_dir, mode, **kw)
    assert run.exit_code == 0, (
        f"claude exited {run.exit_code}\nstdout: {run.stdout[-2000:]}\nstderr: {run.stderr[-4000:]}"
    )
    assert run.result is not None, f"no JSON result on stdout: {run.stdout[-2000:]}"
    assert run.result.get("is_error") is False, run.result
    return run, summarize(records), records


def _auth_values(records: list[dict]) -> set[str]:
    out = set()
    for r in records:
        hdrs = r.get("headers") or r.get("metadata") or {}
        out |= {v for k, v in hdrs.items() if k.lower() == "authorization"}
    return out


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _check_usage(run: CliRun, s: Summary) -> None:
    """Tokens and cost: n x per-reply, n = main-loop replies the fake sent; cost = CLI's total_cost_usd."""
    n = run.main_replies
    assert n == SCRIPT.main_replies, f"fake sent {n} main-loop replies: {run.requests}"
    replies = [r for r in run.requests if r["path"].split("?")[0] == "/v1/messages"]
    # Every /v1/messages reply (main or side) carries USAGE; the CLI accounts for all of them.
    total = len(replies)
    tokens = {t: s.metric_total("claude_code.token.usage", type=t) for t in TOKEN_TYPES}
    assert tokens == {k: float(v) for k, v in SCRIPT.tokens(total).items()}, tokens
    main_tokens = {t: s.metric_total("claude_code.token.usage", type=t, query_source="main") for t in TOKEN_TYPES}
    assert main_tokens == {k: float(v) for k, v in SCRIPT.tokens(n).items()}, main_tokens

    api = s.events_named("api_request")
    assert len(api) == total, [e.attributes for e in api]
    per_reply = {float(e.attributes["cost_usd"]) for e in api}
    assert len(per_reply) == 1, per_reply  # same usage, same model -> same cost per reply
    (cost_each,) = per_reply
    assert cost_each > 0
    for e in api:
        assert int(e.attributes["input_tokens"]) == USAGE["input_tokens"]
        assert int(e.attributes["output_tokens"]) == USAGE["output_tokens"]
        assert int(e.attributes["cache_read_tokens"]) == USAGE["cache_read_input_tokens"]
        assert int(e.attributes["cache_creation_tokens"]) == USAGE["cache_creation_input_tokens"]

    cost_metric = s.metric_total("claude_code.cost.usage")
    assert _close(cost_metric, run.cost), (cost_metric, run.cost)
    assert _close(cost_metric, total * cost_each), (cost_metric, total, cost_each)
    assert _close(s.metric_total("claude_code.cost.usage", query_source="main"), n * cost_each)
    # the CLI's own JSON agrees on tokens too
    usage = run.result["usage"]
    assert usage["input_tokens"] == USAGE["input_tokens"] * total
    assert usage["output_tokens"] == USAGE["output_tokens"] * total


@pytest.mark.e2e
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_accept_edits_figures(protocol: str, claude_binary: Path, tmp_path: Path) -> None:
    run, s, records = _run_and_capture(protocol, claude_binary, tmp_path)

    # the script really ran: the file exists, edited
    assert (run.workdir / FILE_NAME).read_text() == FILE_AFTER_EDIT
    assert [r["turn"] for r in run.requests if r["kind"] == "main"] == [1, 2, 3]

    # transport
    assert {r["proto"] for r in records} == {"grpc" if protocol == "grpc" else "http"}
    assert _auth_values(records) == {f"Bearer {TOKEN}"}
    if protocol != "grpc":
        want = "application/json" if protocol == "http/json" else "application/x-protobuf"
        assert {r["content_type"] for r in records} == {want}
        assert all(("raw_json" in r) == (protocol == "http/json") for r in records)
    assert not [r for r in records if "error" in r], [r["error"] for r in records if "error" in r]

    # lines of code: 8 added / 1 removed (Write of 5 lines + trailing newline = 6, Edit 1 -> 2 lines)
    assert s.metric_total("claude_code.lines_of_code.count", type="added") == SCRIPT.cli_lines_added
    assert s.metric_total("claude_code.lines_of_code.count", type="removed") == SCRIPT.cli_lines_removed

    # edit tool decisions
    decisions = s.by("claude_code.code_edit_tool.decision", "tool_name", "decision")
    assert decisions == {("Edit", "accept"): 1.0, ("Write", "accept"): 1.0}, decisions

    # sessions
    assert s.metric_total("claude_code.session.count") == 1
    assert s.metric_total("claude_code.session.count", start_type="fresh") == 1

    _check_usage(run, s)

    # events
    names = set(s.event_names)
    assert REQUIRED_EVENTS <= names, names
    assert len(s.events_named("user_prompt")) == 1
    td = sorted((e.attributes["tool_name"], e.attributes["decision"]) for e in s.events_named("tool_decision"))
    assert td == [("Edit", "accept"), ("Write", "accept")], td
    tr = sorted((e.attributes["tool_name"], str(e.attributes["success"])) for e in s.events_named("tool_result"))
    assert tr == [("Edit", "true"), ("Write", "true")], tr

    # one session, identity only user.id + session.id (API-key auth)
    sessions = {p.attributes.get("session.id") for p in s.points} | {e.attributes.get("session.id") for e in s.events}
    assert sessions == {run.result["session_id"]}
    assert not any("user.email" in p.attributes or "organization.id" in p.attributes for p in s.points)
    assert {p.resource.get("service.version") for p in s.points} == {CLAUDE_CODE_VERSION}


@pytest.mark.e2e
def test_default_mode_rejects_write(claude_binary: Path, tmp_path: Path) -> None:
    """In -p with --permission-mode default nobody can approve, so the Write is rejected (source config); the
    Edit then fails validation (file missing) and reports no decision at all."""
    run, s, _ = _run_and_capture("http/json", claude_binary, tmp_path, mode="default")
    assert not (run.workdir / FILE_NAME).exists()
    assert [d["tool_name"] for d in run.result.get("permission_denials", [])] == ["Write"]
    decisions = s.by("claude_code.code_edit_tool.decision", "tool_name", "decision", "source")
    assert decisions == {("Write", "reject", "config"): 1.0}, decisions
    assert s.metric_total("claude_code.lines_of_code.count") == 0
    assert s.metric_total("claude_code.session.count") == 1
    _check_usage(run, s)


@pytest.mark.e2e
def test_telemetry_flushed_on_exit(claude_binary: Path, tmp_path: Path) -> None:
    """With 10-minute export intervals nothing would be sent during the ~1 s run: all data comes from the
    CLI's flush at exit."""
    run, s, _ = _run_and_capture(
        "grpc",
        claude_binary,
        tmp_path,
        extra_env={"OTEL_METRIC_EXPORT_INTERVAL": "600000", "OTEL_LOGS_EXPORT_INTERVAL": "600000"},
    )
    assert s.metric_total("claude_code.lines_of_code.count", type="added") == SCRIPT.cli_lines_added
    assert REQUIRED_EVENTS <= set(s.event_names)
    _check_usage(run, s)


# ---------------------------------------------------------------------------------------------- fixtures
# Not e2e: checks the committed captures (tests/fixtures) with the same independent summarizer.
@pytest.mark.parametrize("label", ["grpc-acceptedits", "http-protobuf-acceptedits", "http-json-acceptedits"])
def test_fixture_accept_edits(label: str) -> None:
    path = FIXTURES / f"cc-{CLAUDE_CODE_VERSION}-{label}.jsonl"
    if not path.exists():
        pytest.skip(f"{path} missing (regenerate with tests/e2e/capture_fixtures.py)")
    s = summarize(load_jsonl(path))
    assert s.metric_total("claude_code.lines_of_code.count", type="added") == 8
    assert s.metric_total("claude_code.lines_of_code.count", type="removed") == 1
    assert s.by("claude_code.code_edit_tool.decision", "tool_name", "decision") == {
        ("Edit", "accept"): 1.0,
        ("Write", "accept"): 1.0,
    }
    assert s.metric_total("claude_code.session.count") == 1
    assert {t: s.metric_total("claude_code.token.usage", type=t) for t in TOKEN_TYPES} == {
        "input": 3600.0,
        "output": 450.0,
        "cacheRead": 9000.0,
        "cacheCreation": 1500.0,
    }
    api = s.events_named("api_request")
    assert len(api) == 3
    assert _close(s.metric_total("claude_code.cost.usage"), sum(float(e.attributes["cost_usd"]) for e in api))
    assert REQUIRED_EVENTS <= set(s.event_names)


def test_fixture_default_mode() -> None:
    path = FIXTURES / f"cc-{CLAUDE_CODE_VERSION}-http-json-default-mode.jsonl"
    if not path.exists():
        pytest.skip(f"{path} missing (regenerate with tests/e2e/capture_fixtures.py)")
    s = summarize(load_jsonl(path))
    assert s.by("claude_code.code_edit_tool.decision", "tool_name", "decision") == {("Write", "reject"): 1.0}
    assert s.metric_total("claude_code.lines_of_code.count") == 0
    assert s.metric_total("claude_code.token.usage", type="input") == 3600
