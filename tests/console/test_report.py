"""The Admin-API-compatible report: exact records from the known workload, cursor pagination, errors."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.console.workload import API_KEY_ID, D1, D2, D3, D4, EMAIL_ORG, KEY_ORG
from tests.support.collector import CollectorProcess

REPORT = "/v1/organizations/usage_report/claude_code"


def _tools(**counts: tuple[int, int]) -> dict[str, dict[str, int]]:
    tools = {
        name: {"accepted": 0, "rejected": 0}
        for name in ("edit_tool", "multi_edit_tool", "write_tool", "notebook_edit_tool")
    }
    for name, (accepted, rejected) in counts.items():
        tools[name] = {"accepted": accepted, "rejected": rejected}
    return tools


def _model(
    model: str, cents: float, input: int = 0, output: int = 0, cache_read: int = 0, cache_creation: int = 0
) -> dict[str, Any]:
    return {
        "model": model,
        "tokens": {"input": input, "output": output, "cache_read": cache_read, "cache_creation": cache_creation},
        "estimated_cost": {"amount": cents, "currency": "USD"},
    }


def _record(
    day,
    actor,
    organization_id,
    customer_type,
    terminal,
    sessions,
    added,
    removed,
    commits=0,
    prs=0,
    tools=None,
    models=(),
):
    return {
        "date": f"{day.isoformat()}T00:00:00Z",
        "actor": actor,
        "organization_id": organization_id,
        "customer_type": customer_type,
        "subscription_type": None,
        "terminal_type": terminal,
        "is_remote": False,
        "core_metrics": {
            "num_sessions": sessions,
            "lines_of_code": {"added": added, "removed": removed},
            "commits_by_claude_code": commits,
            "pull_requests_by_claude_code": prs,
        },
        "tool_actions": tools or _tools(),
        "model_breakdown": list(models),
    }


ALICE = {"type": "user_actor", "email_address": "alice@example.com"}
BOB = {"type": "user_actor", "email_address": "bob@example.com"}
KEY = {"type": "api_actor", "api_key_name": API_KEY_ID}

# Records in the endpoint's order (api_key members, then email members, each by name).
EXPECTED: dict[Any, list[dict[str, Any]]] = {
    D1: [
        _record(D1, KEY, KEY_ORG, "api", "non-interactive", 1, 20, 0, tools=_tools(edit_tool=(5, 0)),
                models=[_model("claude-opus-4-6", 100.0, input=5000)]),
        _record(D1, ALICE, EMAIL_ORG, "subscription", "vscode", 1, 10, 2, commits=1, prs=1,
                tools=_tools(edit_tool=(3, 1), write_tool=(1, 0)),
                models=[_model("claude-haiku-4-5", 6.25, input=100, output=10),
                        _model("claude-opus-4-6", 25.0, input=1000, output=200, cache_read=3000, cache_creation=500)]),
        _record(D1, BOB, EMAIL_ORG, "subscription", "iTerm.app", 1, 6, 1,
                tools=_tools(write_tool=(0, 1), notebook_edit_tool=(2, 0)),
                models=[_model("claude-sonnet-4-5", 12.5, input=400, output=40)]),
    ],
    D2: [_record(D2, BOB, EMAIL_ORG, "subscription", "iTerm.app", 1, 3, 0, models=[_model("claude-sonnet-4-5", 37.5)])],
    D3: [_record(D3, ALICE, EMAIL_ORG, "subscription", "vscode", 1, 4, 0, tools=_tools(multi_edit_tool=(0, 2)),
                 models=[_model("claude-opus-4-6", 50.0)])],
    D4: [_record(D4, KEY, KEY_ORG, "api", "non-interactive", 1, 7, 0, models=[_model("claude-opus-4-6", 25.0)])],
}  # fmt: skip


@pytest.mark.parametrize("day", [D1, D2, D3, D4], ids=["D1", "D2", "D3", "D4"])
def test_each_day_yields_exactly_the_expected_records(console_collector: CollectorProcess, day) -> None:
    response = console_collector.api_get(REPORT, starting_at=day.isoformat())
    assert response.status_code == 200, response.text
    assert response.json() == {"data": EXPECTED[day], "has_more": False, "next_page": None}


def test_idle_day_is_empty(console_collector: CollectorProcess) -> None:
    idle = D1 - timedelta(days=1)
    assert console_collector.api_get(REPORT, starting_at=idle.isoformat()).json() == {
        "data": [], "has_more": False, "next_page": None,
    }  # fmt: skip


def test_limit_one_walks_every_record_once(console_collector: CollectorProcess) -> None:
    seen: list[dict[str, Any]] = []
    cursors: list[str] = []
    params = {"starting_at": D1.isoformat(), "limit": "1"}
    while True:
        body = console_collector.api_get(REPORT, **params).json()
        assert len(body["data"]) == 1
        seen.extend(body["data"])
        if not body["has_more"]:
            assert body["next_page"] is None
            break
        cursors.append(body["next_page"])
        params["page"] = body["next_page"]
    assert seen == EXPECTED[D1]
    assert len(set(cursors)) == 2
    # The cursor is stable: asking for the same page again gives the same record.
    again = console_collector.api_get(REPORT, starting_at=D1.isoformat(), limit="1", page=cursors[0]).json()
    assert again["data"] == [EXPECTED[D1][1]] and again["next_page"] == cursors[1]
    two = console_collector.api_get(REPORT, starting_at=D1.isoformat(), limit="2").json()
    assert two["data"] == EXPECTED[D1][:2] and two["has_more"] is True


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({}, "starting_at is required"),
        ({"starting_at": "2026-13-01"}, "starting_at must be"),
        ({"starting_at": "yesterday"}, "starting_at must be"),
        ({"starting_at": "2026-11-01", "limit": "0"}, "limit must be"),
        ({"starting_at": "2026-11-01", "limit": "1001"}, "limit must be"),
        ({"starting_at": "2026-11-01", "limit": "ten"}, "limit must be"),
        ({"starting_at": "2026-11-01", "limit": "-1"}, "limit must be"),
        ({"starting_at": "2026-11-01", "page": "not-a-cursor"}, "page is not"),
    ],
)
def test_bad_parameters_get_invalid_request_error(console_collector: CollectorProcess, params, fragment) -> None:
    response = console_collector.api_get(REPORT, **params)
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert fragment in body["error"]["message"]


def test_cursor_of_another_day_is_refused(console_collector: CollectorProcess) -> None:
    cursor = console_collector.api_get(REPORT, starting_at=D1.isoformat(), limit="1").json()["next_page"]
    response = console_collector.api_get(REPORT, starting_at=D2.isoformat(), page=cursor)
    assert response.status_code == 400 and "another starting_at" in response.json()["error"]["message"]


def test_max_limit_is_accepted(console_collector: CollectorProcess) -> None:
    body = console_collector.api_get(REPORT, starting_at=D1.isoformat(), limit="1000").json()
    assert body["data"] == EXPECTED[D1] and body["has_more"] is False
