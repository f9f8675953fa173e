"""Trust boundaries of ingest, against the real collector: a token bound to an organization cannot write
another organization's figures (refused as OTLP partial success by default, or pinned to the token's
organization with `auth.organization_mismatch: override`), a token's allowed email domains hold, the tokens
file is re-read at once (a removed token stops, in-flight requests finish, a malformed file keeps the last
good set), an empty tokens list refuses everyone, open ingest on a network address is warned about, and the
first console owner's token can come from a file instead of being printed."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse

from tests.support import otlp_raw as otlp
from tests.support.collector import CollectorProcess

TOKEN_A, TOKEN_B, TOKEN_C = "tenancy-token-org-a", "tenancy-token-org-b", "tenancy-token-org-c"
ORG_A, ORG_B, ORG_C = "orgA", "orgB", "orgC"
JSON = otlp.CONTENT_TYPES["json"]
PROTOBUF = otlp.CONTENT_TYPES["protobuf"]
REPORT = "/v1/organizations/usage_report/claude_code"

TOKENS_YAML = f"""tokens:
  - token: {TOKEN_A}
    name: org-a-sender
    organization_id: {ORG_A}
  - token: {TOKEN_B}
    name: org-b-sender
    organization_id: {ORG_B}
  - token: {TOKEN_C}
    name: org-c-sender
    organization_id: {ORG_C}
    allowed_email_domains: [orgc.example]
"""


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _metrics_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    return document["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]


def _spoof(claimed_org: str = ORG_B, email: str = "ceo@orgb.example") -> dict[str, Any]:
    """What a sender holding another organization's token sends as `claimed_org`'s CEO: one session, one
    accepted Write, 1 000 added lines and 999 USD (4 data points)."""
    ident = {"user.id": "e" * 64, "user.email": email, "organization.id": claimed_org, "session.id": "spoof-s1"}
    now = otlp.now_ns()
    return otlp.metrics_request(
        [
            otlp.sum_metric(otlp.SESSION, [otlp.point(1, {**ident, "start_type": "fresh"}, now)]),
            otlp.sum_metric(otlp.DECISION, [otlp.point(1, {**ident, "tool_name": "Write", "decision": "accept",
                                                            "source": "config"}, now)]),
            otlp.sum_metric(otlp.LINES, [otlp.point(1000, {**ident, "type": "added"}, now)]),
            otlp.sum_metric(otlp.COST, [otlp.point(999, {**ident, "model": "claude-opus-4-6"}, now)], unit="USD"),
        ]
    )  # fmt: skip


def _partial(response: httpx.Response, field: str) -> tuple[int, str]:
    """(rejected count, reason) of an OTLP/HTTP answer, JSON or protobuf."""
    assert response.status_code == 200, (response.status_code, response.content[:300])
    if response.headers["content-type"].startswith("application/json"):
        partial = response.json().get("partialSuccess", {})
        return int(partial.get(field, 0)), partial.get("errorMessage", "")
    message = (ExportLogsServiceResponse if field == "rejectedLogRecords" else ExportMetricsServiceResponse)()
    message.ParseFromString(response.content)
    rejected = message.partial_success.rejected_log_records if field == "rejectedLogRecords" else (
        message.partial_success.rejected_data_points)  # fmt: skip
    return rejected, message.partial_success.error_message


def _month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def _report_records(collector: CollectorProcess) -> list[dict[str, Any]]:
    today = datetime.now(UTC).date().isoformat()
    response = collector.api_get(REPORT, starting_at=today, limit="1000")
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _tokens_file(folder: Path, text: str) -> Path:
    path = folder / "tokens.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def refusing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    """Three tokens, each bound to its organization (the default: conflicting points are refused)."""
    folder = tmp_path_factory.mktemp("tenancy")
    process = CollectorProcess(data_dir=folder / "data", tokens_file=_tokens_file(folder, TOKENS_YAML)).start()
    yield process
    process.kill()


def test_a_token_cannot_write_another_organizations_figures(refusing: CollectorProcess) -> None:
    # orgB's own member, through orgB's token: 5 lines, 0.25 USD.
    otlp.send(refusing, "http/protobuf", otlp.edit_request(ORG_B, lines=5, cost=0.25, name="bob"),
              headers=_bearer(TOKEN_B))  # fmt: skip
    assert otlp.figures(refusing, ORG_B) == otlp.edit_figures(5, 0.25)
    team_before = refusing.team(_month(), org=ORG_B)["members"]
    records_before = [record for record in _report_records(refusing) if record["organization_id"] == ORG_B]

    # orgA's token claims orgB: over OTLP/JSON, mixed with 4 points of orgA's own member (7 lines, 0.5 USD).
    mixed = otlp.metrics_request(_metrics_of(otlp.edit_request(ORG_A, lines=7, cost=0.5, name="dev"))
                                 + _metrics_of(_spoof()))  # fmt: skip
    response = otlp.post(refusing, "metrics", otlp.to_json(mixed), JSON, _bearer(TOKEN_A))
    rejected, reason = _partial(response, "rejectedDataPoints")
    assert rejected == 4 and reason == "4 data points refused: organization.id is not the ingest token's organization"
    # Over OTLP/HTTP protobuf and gRPC, only the spoof: all 4 points refused.
    response = otlp.post(refusing, "metrics", otlp.to_protobuf(_spoof()), PROTOBUF, _bearer(TOKEN_A))
    assert _partial(response, "rejectedDataPoints")[0] == 4
    answer = ExportMetricsServiceResponse.FromString(
        otlp.grpc_export(refusing, "metrics", otlp.to_protobuf(_spoof()), [("authorization", f"Bearer {TOKEN_A}")])
    )
    assert answer.partial_success.rejected_data_points == 4
    assert "organization.id" in answer.partial_success.error_message
    # Events claiming orgB: 3 log records refused.
    events = otlp.logs_request(ORG_B, ["user_prompt", "api_request", "tool_result"], name="ceo")
    response = otlp.post(refusing, "logs", otlp.to_json(events), JSON, _bearer(TOKEN_A))
    assert _partial(response, "rejectedLogRecords") == (
        3, "3 log records refused: organization.id is not the ingest token's organization")  # fmt: skip
    # The claim on the resource instead of the points is refused the same way.
    on_resource = _spoof()
    on_resource["resourceMetrics"][0]["resource"]["attributes"].append(
        {"key": "organization.id", "value": {"stringValue": ORG_B}})  # fmt: skip
    for metric in _metrics_of(on_resource):
        for point in metric["sum"]["dataPoints"]:
            point["attributes"] = [a for a in point["attributes"] if a["key"] != "organization.id"]
    response = otlp.post(refusing, "metrics", otlp.to_json(on_resource), JSON, _bearer(TOKEN_A))
    assert _partial(response, "rejectedDataPoints")[0] == 4

    # orgB's analytics, team view and Admin-API report are untouched; orgA got exactly its own member.
    assert otlp.figures(refusing, ORG_B) == otlp.edit_figures(5, 0.25)
    assert otlp.figures(refusing, ORG_A) == otlp.edit_figures(7, 0.5)
    assert refusing.team(_month(), org=ORG_B)["members"] == team_before
    assert [m["member"] for m in team_before] == ["bob@orgB.example"]
    assert (team_before[0]["spend_usd"], team_before[0]["accepted_lines"]) == (0.25, 5)
    records = _report_records(refusing)
    assert [record for record in records if record["organization_id"] == ORG_B] == records_before
    assert [record["actor"] for record in records_before] == [
        {"type": "user_actor", "email_address": "bob@orgB.example"}
    ]
    assert "ceo@orgb.example" not in json.dumps(records)
    totals = refusing.analytics(*otlp.day_range())["totals"]
    org_c = otlp.figures(refusing, ORG_C)  # the other test's organization, whichever ran first
    assert (totals["accepted_lines"], totals["spend_usd"]) == (12 + org_c["accepted_lines"], 0.75 + org_c["spend_usd"])
    # Refusals are logged with the count and the reason (repeats rate-limited), never with the token.
    log = refusing.log()
    assert "4 data points refused: organization.id is not the ingest token's organization" in log
    assert TOKEN_A not in log and TOKEN_B not in log


def test_an_email_outside_the_tokens_domains_is_refused(refusing: CollectorProcess) -> None:
    # orgC's token allows only orgc.example: orgC's own member (any letter case) is kept, an outsider is not.
    good = otlp.edit_request(ORG_C, lines=3, cost=0.125, name="dev")  # dev@orgC.example
    outsider = _spoof(claimed_org=ORG_C, email="mallory@evil.example")
    request = otlp.metrics_request(_metrics_of(good) + _metrics_of(outsider))
    response = otlp.post(refusing, "metrics", otlp.to_json(request), JSON, _bearer(TOKEN_C))
    assert _partial(response, "rejectedDataPoints") == (
        4, "4 data points refused: user.email is outside the ingest token's allowed email domains")  # fmt: skip
    assert otlp.figures(refusing, ORG_C) == otlp.edit_figures(3, 0.125)
    assert [m["member"] for m in refusing.team(_month(), org=ORG_C)["members"]] == ["dev@orgC.example"]


def test_override_counts_a_conflicting_point_in_the_tokens_organization(tmp_path: Path) -> None:
    process = CollectorProcess(
        data_dir=tmp_path / "data",
        tokens_file=_tokens_file(tmp_path, TOKENS_YAML),
        extra_env={"CC_ANALYTICS_AUTH_ORGANIZATION_MISMATCH": "override"},
    ).start()
    try:
        response = otlp.post(process, "metrics", otlp.to_json(_spoof()), JSON, _bearer(TOKEN_A))
        assert (response.status_code, response.json()) == (200, {})  # a full success: nothing refused
        assert otlp.figures(process, ORG_B) == otlp.ZERO
        assert otlp.figures(process, ORG_A) == otlp.edit_figures(1000, 999)
        members = process.team(_month(), org=ORG_A)["members"]
        assert [(m["member"], m["spend_usd"], m["accepted_lines"]) for m in members] == [
            ("ceo@orgb.example", 999, 1000)
        ]
        assert process.team(_month(), org=ORG_B)["members"] == []
        assert {record["organization_id"] for record in _report_records(process)} == {ORG_A}
    finally:
        process.kill()


# --- the tokens file is re-read at once ------------------------------------------------------------------------


def _http_status(collector: CollectorProcess, token: str, org: str, lines: float) -> int:
    request = otlp.edit_request(org, lines=lines, name="reload")
    return otlp.post(collector, "metrics", otlp.to_protobuf(request), PROTOBUF, _bearer(token)).status_code


def _grpc_code(collector: CollectorProcess, token: str, org: str) -> grpc.StatusCode:
    request = otlp.to_protobuf(otlp.edit_request(org, lines=1, name="reload-grpc"))
    try:
        otlp.grpc_export(collector, "metrics", request, [("authorization", f"Bearer {token}")])
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def _replace(path: Path, text: str) -> None:
    """Write then rename, as an operator's tooling should (the collector copes with in-place writes too)."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def _entry(token: str, org: str) -> str:
    return f"  - token: {token}\n    name: {token}\n    organization_id: {org}\n"


def test_tokens_are_reloaded_at_once(tmp_path: Path) -> None:
    keep, gone, new = "reload-keep-token", "reload-gone-token", "reload-new-token"
    tokens = _tokens_file(tmp_path, "tokens:\n" + _entry(keep, "org-keep") + _entry(gone, "org-gone"))
    process = CollectorProcess(data_dir=tmp_path / "data", tokens_file=tokens).start()
    try:
        assert _http_status(process, gone, "org-gone", 1) == 200

        # A request authenticated with `gone` whose body is still arriving when `gone` is removed finishes.
        release = threading.Event()
        body = otlp.to_protobuf(otlp.edit_request("org-gone", lines=10, name="inflight"))
        answer: dict[str, httpx.Response] = {}

        def chunks() -> Iterator[bytes]:
            yield body[:10]
            release.wait(30)
            yield body[10:]

        def post_slowly() -> None:
            answer["response"] = httpx.post(f"{process.otlp_http_url}/v1/metrics", content=chunks(),
                                            headers={"content-type": PROTOBUF, **_bearer(gone)}, timeout=60)  # fmt: skip

        sender = threading.Thread(target=post_slowly)
        sender.start()
        time.sleep(1.0)  # the collector has read the headers (and the token) of the in-flight request

        tokens.write_text("tokens:\n" + _entry(keep, "org-keep"))  # in place, as an editor saves
        # The very next request is refused, over both transports; the kept token works.
        assert _http_status(process, gone, "org-gone", 100) == 401
        assert _grpc_code(process, gone, "org-gone") == grpc.StatusCode.UNAUTHENTICATED
        assert _http_status(process, keep, "org-keep", 2) == 200
        release.set()
        sender.join(60)
        assert answer["response"].status_code == 200, answer["response"].content
        assert otlp.figures(process, "org-gone")["accepted_lines"] == 11  # 1 before + 10 in flight, not the 100

        _replace(tokens, "tokens:\n" + _entry(keep, "org-keep") + _entry(new, "org-new"))
        assert _http_status(process, new, "org-new", 3) == 200

        # Half-written or malformed files mid-run keep the last good set, one log line per faulty state.
        for faulty in ("tokens:\n  - token: [\n", ""):
            tokens.write_text(faulty)
            for _ in range(3):
                assert _http_status(process, keep, "org-keep", 1) == 200
                assert _http_status(process, new, "org-new", 1) == 200
                assert _http_status(process, gone, "org-gone", 1) == 401
        failures = [json.loads(line) for line in process.log().splitlines() if '"auth.tokens_reload_failed"' in line]
        assert [(f["file"], f["tokens_kept"]) for f in failures] == [(str(tokens), 2), (str(tokens), 2)]
        assert "not valid YAML" in failures[0]["error"] and "empty" in failures[1]["error"]

        _replace(tokens, "tokens:\n" + _entry(new, "org-new"))
        assert _http_status(process, keep, "org-keep", 1) == 401
        assert _http_status(process, new, "org-new", 1) == 200
        assert otlp.figures(process, "org-keep")["accepted_lines"] == 2 + 6
        log = process.log()
        assert all(token not in log for token in (keep, gone, new))
    finally:
        process.kill()


# --- fail closed and say so ------------------------------------------------------------------------------------


def _warnings(collector: CollectorProcess, event: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in collector.log().splitlines() if line.startswith("{")]
    return [line for line in lines if line["event"] == event and line["level"] == "warning"]


def test_an_empty_tokens_list_refuses_every_sender(tmp_path: Path) -> None:
    tokens = _tokens_file(tmp_path, "tokens: []\n")
    process = CollectorProcess(data_dir=tmp_path / "data", tokens_file=tokens,
                               extra_env={"CC_ANALYTICS_BIND": "0.0.0.0"}).start()  # fmt: skip
    try:
        request = otlp.to_protobuf(otlp.edit_request("org-open", lines=5))
        assert otlp.post(process, "metrics", request, PROTOBUF).status_code == 401
        assert otlp.post(process, "metrics", request, PROTOBUF, _bearer("anything")).status_code == 401
        assert _grpc_code(process, "anything", "org-open") == grpc.StatusCode.UNAUTHENTICATED
        warnings = _warnings(process, "auth.no_tokens")
        assert len(warnings) == 1 and warnings[0]["file"] == str(tokens)
        assert "every sender is refused" in warnings[0]["effect"]
        assert _warnings(process, "auth.open_ingest") == []  # tokens are required: ingest is not open
        assert otlp.figures(process, "org-open") == otlp.ZERO
    finally:
        process.kill()


def test_open_ingest_on_a_network_address_is_warned_about(tmp_path: Path) -> None:
    process = CollectorProcess(data_dir=tmp_path / "data", extra_env={"CC_ANALYTICS_BIND": "0.0.0.0"}).start()
    try:
        warnings = _warnings(process, "auth.open_ingest")
        assert len(warnings) == 1 and warnings[0]["bind"] == "0.0.0.0"
        assert f"{process.grpc_port}/{process.http_port}" in warnings[0]["effect"]
    finally:
        process.kill()
    loopback = CollectorProcess(data_dir=tmp_path / "loopback").start()
    try:
        assert _warnings(loopback, "auth.open_ingest") == []
    finally:
        loopback.kill()


# --- the first console owner without a printed token ----------------------------------------------------------


@pytest.mark.parametrize("form", ["token", "sha256"])
def test_the_first_owner_token_from_a_file_is_never_printed(tmp_path: Path, form: str) -> None:
    token = "cca_operator-chosen-owner-token-0123456789"
    owner_file = tmp_path / "owner-token"
    owner_file.write_text(token + "\n" if form == "token" else f"sha256:{hashlib.sha256(token.encode()).hexdigest()}\n")
    access_file = tmp_path / "access.yaml"
    process = CollectorProcess(
        data_dir=tmp_path / "data",
        extra_env={
            "CC_ANALYTICS_CONSOLE_ACCESS_FILE": str(access_file),
            "CC_ANALYTICS_CONSOLE_INITIAL_OWNER_TOKEN_FILE": str(owner_file),
        },
    ).start()
    try:
        me = httpx.get(f"{process.api_url}/api/v1/me", headers=_bearer(token), timeout=30)
        assert me.json() == {"name": "owner", "role": "primary_owner", "role_name": "Primary Owner"}
        log = process.log()  # stdout and stderr
        assert "/login?token=" not in log and token not in log
        created = [line for line in log.splitlines() if '"console.owner_created"' in line]
        assert len(created) == 1 and "console.initial_owner_token_file" in created[0]
        assert token not in access_file.read_text()
    finally:
        process.kill()
