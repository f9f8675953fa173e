"""A known workload for the console tests: email members and an API-key member over four past UTC days.

Every figure the tests expect is written out by hand in EXPECTED_* below, from these inputs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from tests.support.collector import CollectorProcess

INGEST_TOKEN = "ingest-console-token"
# A token pins its organization, so the email members (organization.id org-a) send with their own.
EMAIL_INGEST_TOKEN = "ingest-console-email-token"
API_KEY_ID = "apikey_01ConsoleKey"
KEY_ORG = "org-key"
EMAIL_ORG = "org-a"

TODAY = datetime.now(UTC).date()
D1 = TODAY - timedelta(days=2)  # inside the last 7, 30 and 90 days
D2 = TODAY - timedelta(days=5)  # inside the last 7, 30 and 90 days
D3 = TODAY - timedelta(days=20)  # inside the last 30 and 90 days
D4 = TODAY - timedelta(days=50)  # inside the last 90 days only


@dataclass
class Activity:
    """What one member did in one hour of one day."""

    member: str  # email, or "" for the API-key member (identified by the ingest token)
    day: date
    hour: int
    session: str
    terminal: str
    team: str = ""
    added: float = 0
    removed: float = 0
    decisions: list[tuple[str, str, float]] = field(default_factory=list)  # (tool, accept|reject, count)
    cost: list[tuple[str, float]] = field(default_factory=list)  # (model, USD)
    tokens: list[tuple[str, str, float]] = field(default_factory=list)  # (model, type, count)
    commits: float = 0
    pull_requests: float = 0


WORKLOAD: list[Activity] = [
    Activity(
        "alice@example.com", D1, 10, "s-alice-1", "vscode", team="core", added=10, removed=2,
        decisions=[("Edit", "accept", 3), ("Edit", "reject", 1), ("Write", "accept", 1)],
        cost=[("claude-opus-4-6", 0.25)],
        tokens=[("claude-opus-4-6", "input", 1000), ("claude-opus-4-6", "output", 200),
                ("claude-opus-4-6", "cacheRead", 3000), ("claude-opus-4-6", "cacheCreation", 500)],
        commits=1, pull_requests=1,
    ),
    Activity(
        "alice@example.com", D1, 15, "s-alice-1", "vscode", team="core",
        cost=[("claude-haiku-4-5", 0.0625)], tokens=[("claude-haiku-4-5", "input", 100), ("claude-haiku-4-5", "output", 10)],
    ),
    Activity(
        "alice@example.com", D3, 9, "s-alice-2", "vscode", team="core", added=4,
        decisions=[("MultiEdit", "reject", 2)], cost=[("claude-opus-4-6", 0.5)],
    ),
    Activity(
        "bob@example.com", D1, 11, "s-bob-1", "iTerm.app", team="web", added=6, removed=1,
        decisions=[("Write", "reject", 1), ("NotebookEdit", "accept", 2)], cost=[("claude-sonnet-4-5", 0.125)],
        tokens=[("claude-sonnet-4-5", "input", 400), ("claude-sonnet-4-5", "output", 40)],
    ),
    Activity("bob@example.com", D2, 16, "s-bob-2", "iTerm.app", team="web", added=3, cost=[("claude-sonnet-4-5", 0.375)]),
    Activity(
        "", D1, 12, "s-key-1", "non-interactive", added=20, decisions=[("Edit", "accept", 5)],
        cost=[("claude-opus-4-6", 1.0)], tokens=[("claude-opus-4-6", "input", 5000)],
    ),
    Activity("", D4, 8, "s-key-2", "non-interactive", added=7, cost=[("claude-opus-4-6", 0.25)]),
]  # fmt: skip

# Totals per range, by hand from WORKLOAD.
EXPECTED_TOTALS = {
    7: {"accepted_lines": 39, "removed_lines": 3, "accepts": 11, "rejects": 2, "active_users": 3, "sessions": 4,
        "spend_usd": 1.8125},
    30: {"accepted_lines": 43, "removed_lines": 3, "accepts": 11, "rejects": 4, "active_users": 3, "sessions": 5,
         "spend_usd": 2.3125},
    90: {"accepted_lines": 50, "removed_lines": 3, "accepts": 11, "rejects": 4, "active_users": 3, "sessions": 6,
         "spend_usd": 2.5625},
}  # fmt: skip


def _value(value: Any) -> dict[str, Any]:
    return {"stringValue": str(value)}


def _attributes(values: dict[str, str]) -> list[dict[str, Any]]:
    return [{"key": key, "value": _value(value)} for key, value in values.items()]


def _ns(day: date, hour: int, minute: int = 0) -> int:
    return int(datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC).timestamp()) * 1_000_000_000


def request_for(activity: Activity) -> dict[str, Any]:
    """One OTLP/JSON metrics request in the shape Claude Code sends (identity on each point, delta sums)."""
    base = {"user.id": f"uid-{activity.member or 'key'}", "session.id": activity.session,
            "terminal.type": activity.terminal}  # fmt: skip
    if activity.member:
        base.update({"user.email": activity.member, "organization.id": EMAIL_ORG})
    if activity.team:
        base["team.id"] = activity.team
    start, end = _ns(activity.day, activity.hour), _ns(activity.day, activity.hour, 30)
    metrics: dict[str, list[dict[str, Any]]] = {}

    def add(name: str, value: float, **extra: str) -> None:
        metrics.setdefault(name, []).append(
            {"attributes": _attributes({**base, **extra}), "startTimeUnixNano": str(start),
             "timeUnixNano": str(end), "asDouble": value}
        )  # fmt: skip

    add("claude_code.session.count", 1, start_type="fresh")
    if activity.added:
        add("claude_code.lines_of_code.count", activity.added, type="added")
    if activity.removed:
        add("claude_code.lines_of_code.count", activity.removed, type="removed")
    for tool, decision, count in activity.decisions:
        add("claude_code.code_edit_tool.decision", count, tool_name=tool, decision=decision, source="config")
    for model, usd in activity.cost:
        add("claude_code.cost.usage", usd, model=model, query_source="main")
    for model, kind, count in activity.tokens:
        add("claude_code.token.usage", count, model=model, type=kind, query_source="main")
    if activity.commits:
        add("claude_code.commit.count", activity.commits)
    if activity.pull_requests:
        add("claude_code.pull_request.count", activity.pull_requests)
    return {
        "resourceMetrics": [
            {
                "resource": {"attributes": _attributes({"service.name": "claude-code", "service.version": "2.1.331"})},
                "scopeMetrics": [
                    {
                        "scope": {"name": "com.anthropic.claude_code", "version": "2.1.331"},
                        "metrics": [
                            {
                                "name": name,
                                "unit": "USD" if name.endswith("cost.usage") else "",
                                "sum": {"aggregationTemporality": 1, "isMonotonic": True, "dataPoints": points},
                            }
                            for name, points in metrics.items()
                        ],  # fmt: skip
                    }
                ],
            }
        ]
    }


def tokens_yaml() -> str:
    return (
        "tokens:\n"
        f"  - token: {INGEST_TOKEN}\n"
        "    name: console-tests\n"
        f"    api_key_id: {API_KEY_ID}\n"
        f"    organization_id: {KEY_ORG}\n"
        f"  - token: {EMAIL_INGEST_TOKEN}\n"
        "    name: console-tests-email\n"
        f"    organization_id: {EMAIL_ORG}\n"
    )


def send_workload(collector: CollectorProcess) -> None:
    for activity in WORKLOAD:
        token = EMAIL_INGEST_TOKEN if activity.member else INGEST_TOKEN
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        response = httpx.post(f"{collector.otlp_http_url}/v1/metrics", json=request_for(activity), headers=headers,
                              timeout=30)  # fmt: skip
        assert response.status_code == 200, response.text
    # Acknowledged means durable; wait until the rollups show every point before any test reads them.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        totals = collector.analytics(TODAY - timedelta(days=89), TODAY)["totals"]
        if totals["accepted_lines"] == EXPECTED_TOTALS[90]["accepted_lines"] and totals["sessions"] == 6:
            return
        time.sleep(0.2)
    raise AssertionError(f"workload not visible in time: {totals}")
