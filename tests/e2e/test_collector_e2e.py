"""The real Claude Code CLI (-p, against the scripted fake Messages API) exporting its telemetry to the RUNNING
collector over each OTLP protocol; the collector's read API must report exactly what the script implies, what the
CLI itself reported (``total_cost_usd`` of ``--output-format json``) and what the CLI sent, decoded independently.

The CLI's OTLP endpoint is a tee (``otlp_capture`` in forward mode): every request is recorded, decoded with
opentelemetry-proto only, and passed on byte for byte to the collector, whose answer goes back to the CLI. So one
run gives both the collector's figures and an independent decoding of the very same requests.

The collector runs with a tokens file binding the ingest token to an API key id (``keyed_collector``): CLI users
authenticated with an API key send only ``user.id``/``session.id``, so the member is the API key.

Run: ``/work/main/.venv/bin/python -m pytest tests/e2e/test_collector_e2e.py -m e2e``
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import API_KEY_ID, INGEST_TOKEN
from tests.support.collector import CollectorProcess

try:
    from .claude_cli import PROTOCOLS, CliRun, run_captured
    from .fake_anthropic import FILE_AFTER_EDIT, FILE_NAME, SCRIPT
    from .otlp_capture import Summary, summarize
except ImportError:  # tests/e2e on sys.path (conftest.py puts it there)
    from claude_cli import PROTOCOLS, CliRun, run_captured
    from fake_anthropic import FILE_AFTER_EDIT, FILE_NAME, SCRIPT
    from otlp_capture import Summary, summarize

CLI_COST_USD = 0.0327  # 3 replies x 0.0109, what CLI 2.1.331 reports for the script's usage
API_DEADLINE_S = 15.0


def _close(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def _run_through_collector(
    collector: CollectorProcess, protocol: str, binary: Path, base_dir: Path, mode: str = "acceptEdits"
) -> tuple[CliRun, Summary, list[dict]]:
    """One CLI run whose telemetry goes through the recording tee to the collector."""
    run, records = run_captured(
        protocol, INGEST_TOKEN, binary, base_dir, mode,
        forward_http=collector.otlp_http_url, forward_grpc=collector.grpc_target,
    )  # fmt: skip
    assert run.exit_code == 0, (
        f"claude exited {run.exit_code}\nstdout: {run.stdout[-2000:]}\nstderr: {run.stderr[-4000:]}"
    )
    assert run.result is not None and run.result.get("is_error") is False, run.stdout[-2000:]
    assert run.main_replies == SCRIPT.main_replies, run.requests

    # what the CLI sent, and what the collector answered (the CLI got that answer)
    assert {r["proto"] for r in records} == {"grpc" if protocol == "grpc" else "http"}
    if protocol != "grpc":
        want = "application/json" if protocol == "http/json" else "application/x-protobuf"
        assert {r["content_type"].split(";")[0] for r in records} == {want}
    assert not [r for r in records if "error" in r], [r["error"] for r in records if "error" in r]
    ok = "OK" if protocol == "grpc" else 200
    answers = [(r["path"], r.get("forward_status"), r.get("forward_body")) for r in records]
    assert all(status == ok for _, status, _ in answers), (answers, collector.log()[-4000:])
    # full success: no partialSuccess with rejected points/records
    assert not [a for a in answers if isinstance(a[2], dict) and a[2].get("partialSuccess")], answers
    return run, summarize(records), records


def _date_range() -> tuple[date, date]:
    """Yesterday..today (UTC), taken after the run: covers a run that straddles midnight."""
    today = datetime.now(UTC).date()
    return today - timedelta(days=1), today


def _months(start: date, end: date) -> list[str]:
    return sorted({start.strftime("%Y-%m"), end.strftime("%Y-%m")})


def _poll(fetch: Callable[[], Any], done: Callable[[Any], bool], deadline_s: float = API_DEADLINE_S) -> Any:
    """fetch() until done(result) or the deadline; returns the last result (the caller asserts on it)."""
    deadline = time.monotonic() + deadline_s
    while True:
        result = fetch()
        if done(result) or time.monotonic() >= deadline:
            return result
        time.sleep(0.1)


def _team_members(collector: CollectorProcess, start: date, end: date) -> list[dict]:
    return [m for month in _months(start, end) for m in collector.team(month)["members"]]


def _expected_totals(*, accepted: int, removed: int, accepts: int, rejects: int, spend: float) -> dict:
    decisions = accepts + rejects
    return {
        "accepted_lines": accepted,
        "removed_lines": removed,
        "accepts": accepts,
        "rejects": rejects,
        "acceptance_rate": accepts / decisions if decisions else None,
        "active_users": 1,
        "sessions": 1,
        "spend_usd": spend,
    }


def _matches(totals: dict, expected: dict) -> bool:
    return all(_close(totals.get(k), v) if k == "spend_usd" else totals.get(k) == v for k, v in expected.items())


def _check_api(
    collector: CollectorProcess, run: CliRun, s: Summary, *, accepted: int, removed: int, by_tool: dict
) -> dict:
    """The API's totals and team view against the script, the CLI's own cost and the decoded requests."""
    decoded_cost = s.metric_total("claude_code.cost.usage")
    # the three sources agree before the collector is even asked
    assert _close(run.cost, CLI_COST_USD), run.cost
    assert _close(decoded_cost, run.cost), (decoded_cost, run.cost)
    assert s.metric_total("claude_code.lines_of_code.count", type="added") == accepted
    assert s.metric_total("claude_code.lines_of_code.count", type="removed") == removed
    decoded_decisions = s.by("claude_code.code_edit_tool.decision", "tool_name", "decision")
    assert decoded_decisions == {
        (tool, decision): float(n)
        for tool, counts in by_tool.items()
        for decision, n in (("accept", counts["accepts"]), ("reject", counts["rejects"]))
        if n
    }, decoded_decisions
    sessions = {p.attributes.get("session.id") for p in s.points} | {e.attributes.get("session.id") for e in s.events}
    assert sessions == {run.result["session_id"]}, sessions

    accepts = sum(c["accepts"] for c in by_tool.values())
    rejects = sum(c["rejects"] for c in by_tool.values())
    expected = _expected_totals(accepted=accepted, removed=removed, accepts=accepts, rejects=rejects, spend=run.cost)

    start, end = _date_range()
    report = _poll(lambda: collector.analytics(start, end), lambda r: _matches(r["totals"], expected))
    totals = report["totals"]
    assert _matches(totals, expected), {"api": totals, "expected": expected}
    assert _close(totals["spend_usd"], decoded_cost)
    assert report["acceptance_by_tool"] == by_tool, report["acceptance_by_tool"]
    active_days = [d for d in report["days"] if d["spend_usd"] or d["sessions"]]
    assert len(active_days) == 1, report["days"]  # a ~1 s run lands on one UTC day
    day = active_days[0]
    assert _matches({k: day[k] for k in expected}, expected), day

    members = _team_members(collector, start, end)
    assert len(members) == 1, members
    (member,) = members
    assert member["member"] == API_KEY_ID, member
    assert member["member_type"] == "api_key", member
    assert _close(member["spend_usd"], run.cost) and _close(member["spend_usd"], decoded_cost), member
    assert member["accepted_lines"] == accepted, member
    assert member["sessions"] == 1, member
    return {"totals": totals, "acceptance_by_tool": report["acceptance_by_tool"], "member": member}


@pytest.mark.e2e
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_cli_accept_edits_through_collector(
    protocol: str, claude_binary: Path, keyed_collector: CollectorProcess, tmp_path: Path
) -> None:
    run, s, _ = _run_through_collector(keyed_collector, protocol, claude_binary, tmp_path / "cli")
    assert (run.workdir / FILE_NAME).read_text() == FILE_AFTER_EDIT
    seen = _check_api(
        keyed_collector,
        run,
        s,
        accepted=SCRIPT.cli_lines_added,  # 8
        removed=SCRIPT.cli_lines_removed,  # 1
        by_tool={
            "Edit": {"accepts": 1, "rejects": 0, "acceptance_rate": 1.0},
            "Write": {"accepts": 1, "rejects": 0, "acceptance_rate": 1.0},
        },
    )
    print(protocol, seen)


@pytest.mark.e2e
def test_cli_default_mode_rejects_write_through_collector(
    claude_binary: Path, keyed_collector: CollectorProcess, tmp_path: Path
) -> None:
    """--permission-mode default under -p: nobody can approve, the Write is rejected (the Edit then fails
    validation and reports no decision): 0 accepted lines, 1 reject, acceptance rate 0.0, same spend."""
    run, s, _ = _run_through_collector(keyed_collector, "http/protobuf", claude_binary, tmp_path / "cli", "default")
    assert not (run.workdir / FILE_NAME).exists()
    seen = _check_api(
        keyed_collector,
        run,
        s,
        accepted=0,
        removed=0,
        by_tool={"Write": {"accepts": 0, "rejects": 1, "acceptance_rate": 0.0}},
    )
    print("default", seen)
