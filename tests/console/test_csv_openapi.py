"""CSV exports equal the JSON figures; /openapi.json describes every JSON endpoint; a schemathesis run
against it (property-based requests, every response checked against the document) finds no server error."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.console.workload import API_KEY_ID, D1, D2, D3, TODAY, WORKLOAD
from tests.support.collector import CollectorProcess


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_analytics_csv_has_one_row_per_day_with_the_json_figures(console_collector: CollectorProcess) -> None:
    start, end = D2, D1
    response = console_collector.api_get("/api/v1/analytics.csv", start=str(start), end=str(end))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert f'filename="claude-code-analytics-{start}-{end}.csv"' in response.headers["content-disposition"]
    rows = _rows(response.text)
    assert [row["date"] for row in rows] == [str(start + timedelta(days=n)) for n in range((end - start).days + 1)]
    by_date = {row["date"]: row for row in rows}
    assert by_date[str(D1)] == {
        "date": str(D1), "accepted_lines": "36", "removed_lines": "3", "accepts": "11", "rejects": "2",
        "acceptance_rate": str(11 / 13), "active_users": "3", "sessions": "3", "spend_usd": "1.4375",
    }  # fmt: skip
    assert by_date[str(D2)] == {
        "date": str(D2), "accepted_lines": "3", "removed_lines": "0", "accepts": "0", "rejects": "0",
        "acceptance_rate": "", "active_users": "1", "sessions": "1", "spend_usd": "0.375",
    }  # fmt: skip
    idle = by_date[str(D1 - timedelta(days=1))]
    assert idle["accepted_lines"] == "0" and idle["acceptance_rate"] == ""


def test_team_csv_matches_the_team_view(console_collector: CollectorProcess) -> None:
    month = str(D3)[:7]
    response = console_collector.api_get("/api/v1/team.csv", month=month)
    assert response.status_code == 200
    rows = _rows(response.text)
    members = console_collector.team(month)["members"]
    assert [row["member"] for row in rows] == [member["member"] for member in members]
    # Exact figures for the month of D3, summed by hand over WORKLOAD's activities in that month.
    expected: dict[str, tuple[float, float]] = {}
    for activity in WORKLOAD:
        if str(activity.day)[:7] == month:
            name = activity.member or API_KEY_ID
            spend, lines = expected.get(name, (0.0, 0.0))
            expected[name] = (spend + sum(usd for _, usd in activity.cost), lines + activity.added)
    assert {row["member"]: (float(row["spend_usd"]), float(row["accepted_lines"])) for row in rows} == expected
    for row, member in zip(rows, members, strict=True):
        assert row["member_type"] == member["member_type"]
        assert int(row["sessions"]) == member["sessions"]
        assert row["last_active"] == member["last_active"]


@pytest.mark.parametrize("path", ["/api/v1/analytics.csv", "/api/v1/team.csv"])
def test_csv_bad_parameters_get_400(console_collector: CollectorProcess, path: str) -> None:
    params = {"start": "2026-02-30"} if "analytics" in path else {"month": "2026-13"}
    response = console_collector.api_get(path, **params)
    assert response.status_code == 400 and response.json()["error"] == "bad_request"


def test_openapi_lists_every_json_endpoint(console_collector: CollectorProcess) -> None:
    document = httpx.get(f"{console_collector.api_url}/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {
        "/api/v1/analytics", "/api/v1/analytics.csv", "/api/v1/team", "/api/v1/team.csv", "/api/v1/filters",
        "/api/v1/me", "/v1/organizations/usage_report/claude_code", "/healthz", "/readyz",
    }  # fmt: skip


def test_schemathesis_finds_no_server_error(console_collector: CollectorProcess) -> None:
    """Property-based requests for every operation of /openapi.json, each answer checked with every default
    schemathesis check: no 5xx, status codes, content types and bodies as documented."""
    schema = schemathesis.openapi.from_url(f"{console_collector.api_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 9
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case) -> None:
            case.call_and_validate(
                base_url=console_collector.api_url,
                headers=console_collector.api_headers(),
                # A schema cannot say "start <= end, at most 400 days apart": such schema-valid requests
                # rightly get 400, which this one check would count as a failure. All other checks run.
                excluded_checks=[positive_data_acceptance],
            )

        run()


def test_team_view_for_the_current_month(console_collector: CollectorProcess) -> None:
    # The default month is the current UTC one; its figures are WORKLOAD's for that month.
    month = str(TODAY)[:7]
    members = {member["member"] for member in console_collector.team(month)["members"]}
    assert members == {activity.member or API_KEY_ID for activity in WORKLOAD if str(activity.day)[:7] == month}
