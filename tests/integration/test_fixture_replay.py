"""Replay what the real Claude Code CLI sent (captured fixtures) through the RUNNING collector, each request with
its original protocol and content type, and check the figures the read API reports.

Fixtures: ``tests/fixtures/cc-*.jsonl`` and, when present, ``../shared/fixtures/cc-*.jsonl`` (relative to the
repository root). One JSON line per OTLP request: ``proto`` (http | grpc), ``path``, ``content_type`` and the
request as OTLP JSON, ``raw_json`` (http/json, as sent: replayed as that JSON) or ``body`` (http/protobuf and
grpc, json_format of the protobuf: re-encoded to protobuf with ``json_format.ParseDict``).

Every fixture is a ``claude -p`` run of the scripted fake API (tests/e2e/fake_anthropic.py) with API-key auth:
``*acceptedits*`` = Write + Edit accepted, 8 lines added and 1 removed; ``*default-mode*`` = the Write rejected,
no lines. Both: 1 session, 3 API replies costing 0.0327 USD. The collector binds the ingest token to an API
key (``keyed_collector``), so the team view shows that key as the only member.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2

from tests.conftest import API_KEY_ID, INGEST_TOKEN
from tests.support.collector import REPO_ROOT, CollectorProcess

LOCAL_FIXTURES = REPO_ROOT / "tests" / "fixtures"
SHARED_FIXTURES = REPO_ROOT.parent / "shared" / "fixtures"
CLI_COST_USD = 0.0327

_MESSAGES = {
    "/v1/metrics": (
        metrics_service_pb2.ExportMetricsServiceRequest,
        metrics_service_pb2.ExportMetricsServiceResponse,
        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    ),
    "/v1/logs": (
        logs_service_pb2.ExportLogsServiceRequest,
        logs_service_pb2.ExportLogsServiceResponse,
        "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    ),
}


# The captures keep the times they were made at: widen the accepted time window (validation.max_age_days, used up
# to temporality.state_days) to ten years so they replay on any later day, and keep their raw rows (no TTL).
REPLAY_WINDOW = {
    "CC_ANALYTICS_VALIDATION_MAX_AGE_DAYS": "3650",
    "CC_ANALYTICS_TEMPORALITY_STATE_DAYS": "3650",
    "CC_ANALYTICS_STORAGE_RETENTION_DAYS": "0",
}


@pytest.fixture
def keyed_collector(tmp_path: Path, tokens_file: Path) -> Iterator[CollectorProcess]:
    """tests/conftest.py's keyed collector (the token bound to API_KEY_ID), with REPLAY_WINDOW."""
    process = CollectorProcess(data_dir=tmp_path / "data", tokens_file=tokens_file, extra_env=REPLAY_WINDOW).start()
    yield process
    process.kill()


def _fixture_params() -> list:
    params = [pytest.param(p, id=f"local-{p.stem}") for p in sorted(LOCAL_FIXTURES.glob("cc-*.jsonl"))]
    if SHARED_FIXTURES.is_dir():
        params += [pytest.param(p, id=f"shared-{p.stem}") for p in sorted(SHARED_FIXTURES.glob("cc-*.jsonl"))]
    else:
        params.append(
            pytest.param(None, id="shared-absent", marks=pytest.mark.skip(reason=f"{SHARED_FIXTURES} does not exist"))
        )
    return params


def _expected(path: Path) -> dict[str, Any]:
    if "default-mode" in path.name:
        return {"accepted": 0, "removed": 0, "by_tool": {"Write": {"accepts": 0, "rejects": 1, "acceptance_rate": 0.0}}}
    if "acceptedits" in path.name:
        return {
            "accepted": 8,
            "removed": 1,
            "by_tool": {
                "Edit": {"accepts": 1, "rejects": 0, "acceptance_rate": 1.0},
                "Write": {"accepts": 1, "rejects": 0, "acceptance_rate": 1.0},
            },
        }
    raise AssertionError(f"{path.name}: no expectation for this capture (name it *acceptedits* or *default-mode*)")


def _load(path: Path) -> list[dict]:
    with path.open() as f:
        return [json.loads(line) for line in f if line.strip()]


def _days(records: list[dict]) -> tuple[date, date]:
    """First and last UTC day of the points and records in the capture (the fixtures carry their own time)."""
    stamps = [
        int(n)
        for r in records
        for n in re.findall(r'"timeUnixNano": "?(\d+)', json.dumps(r.get("raw_json") or r.get("body") or {}))
        if int(n)
    ]
    assert stamps, "no timeUnixNano in the capture"
    first, last = (datetime.fromtimestamp(x / 1e9, UTC).date() for x in (min(stamps), max(stamps)))
    return first, last


def _replay(collector: CollectorProcess, rec: dict) -> dict:
    """Send one recorded request as it was sent; returns the OTLP response as JSON."""
    path = rec["path"]
    req_cls, resp_cls, method = _MESSAGES[path]
    auth = f"Bearer {INGEST_TOKEN}"
    if rec["proto"] == "grpc":
        payload = json_format.ParseDict(rec["body"], req_cls()).SerializeToString()
        with grpc.insecure_channel(collector.grpc_target, options=[("grpc.enable_http_proxy", 0)]) as channel:
            call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
            answer = call(payload, metadata=[("authorization", auth)], timeout=30)
        return json_format.MessageToDict(resp_cls.FromString(answer))
    ctype = rec["content_type"].split(";")[0].strip()
    if "raw_json" in rec:
        assert ctype == "application/json", ctype
        data = json.dumps(rec["raw_json"]).encode()
    else:
        assert ctype == "application/x-protobuf", ctype
        data = json_format.ParseDict(rec["body"], req_cls()).SerializeToString()
    resp = httpx.post(
        f"{collector.otlp_http_url}{path}",
        content=data,
        headers={"Content-Type": ctype, "Authorization": auth},
        timeout=30,
        trust_env=False,  # loopback: no proxy from the environment
    )
    assert resp.status_code == 200, (path, resp.status_code, resp.text)
    if ctype == "application/json":
        return resp.json() if resp.content else {}
    return json_format.MessageToDict(resp_cls.FromString(resp.content))


def _close(a: float | None, b: float) -> bool:
    return a is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def _decoded_cost(records: list[dict]) -> float:
    """Σ claude_code.cost.usage in the capture (delta counters), read directly from the OTLP JSON."""
    total = 0.0
    for r in records:
        for rm in (r.get("raw_json") or r.get("body") or {}).get("resourceMetrics") or []:
            for sm in rm.get("scopeMetrics") or []:
                for m in sm.get("metrics") or []:
                    if m.get("name") == "claude_code.cost.usage":
                        assert m["sum"].get("aggregationTemporality") in (1, "1", "AGGREGATION_TEMPORALITY_DELTA")
                        total += sum(float(dp.get("asDouble", dp.get("asInt", 0))) for dp in m["sum"]["dataPoints"])
    return total


@pytest.mark.parametrize("fixture", _fixture_params())
def test_replayed_capture_gives_exact_figures(fixture: Path, keyed_collector: CollectorProcess) -> None:
    records = _load(fixture)
    expected = _expected(fixture)
    otlp = [r for r in records if r.get("path") in _MESSAGES]
    assert {r["path"] for r in otlp} == set(_MESSAGES), [r.get("path") for r in records]
    for rec in otlp:
        answer = _replay(keyed_collector, rec)
        assert not answer.get("partialSuccess"), (rec["path"], answer)

    decoded_cost = _decoded_cost(otlp)
    assert _close(decoded_cost, CLI_COST_USD), decoded_cost
    accepts = sum(c["accepts"] for c in expected["by_tool"].values())
    rejects = sum(c["rejects"] for c in expected["by_tool"].values())
    start, end = _days(otlp)
    report = keyed_collector.analytics(start, end)
    totals = report["totals"]
    assert {k: v for k, v in totals.items() if k != "spend_usd"} == {
        "accepted_lines": expected["accepted"],
        "removed_lines": expected["removed"],
        "accepts": accepts,
        "rejects": rejects,
        "acceptance_rate": accepts / (accepts + rejects),
        "active_users": 1,
        "sessions": 1,
    }, totals
    assert _close(totals["spend_usd"], decoded_cost), totals
    assert report["acceptance_by_tool"] == expected["by_tool"], report["acceptance_by_tool"]

    months = sorted({start.strftime("%Y-%m"), end.strftime("%Y-%m")})
    members = [m for month in months for m in keyed_collector.team(month)["members"]]
    assert [(m["member"], m["member_type"], m["accepted_lines"], m["sessions"]) for m in members] == [
        (API_KEY_ID, "api_key", expected["accepted"], 1)
    ], members
    assert _close(members[0]["spend_usd"], decoded_cost), members
