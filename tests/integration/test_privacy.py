"""Privacy by allow-list: without `privacy.store_content`, what a user typed, what a tool received or answered,
raw API bodies, error text, hook matchers and free log bodies are kept nowhere (store, log, /metrics); the
documented non-content fields are kept exactly. With the opt-in everything is kept. Against the real collector
over OTLP/JSON, reading every table of the store afterwards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import clickhouse_connect
import httpx

from tests.support import otlp_raw as otlp
from tests.support.collector import CollectorProcess
from tests.support.running import start_on

ORG = "org-privacy"
MARKER = "PRIVATE-7f3a9c-MARKER"
JSON = otlp.CONTENT_TYPES["json"]
IDENT = otlp.who(ORG, "alice")

ERROR_TEXT = f"upstream said: {MARKER}"
TOOL_PARAMETERS = f'{{"bash_command": "cat /home/alice/{MARKER}"}}'

# (event name, attributes, body): every content-bearing field Claude Code is known to send, each with the marker.
EVENTS: list[tuple[str, dict[str, Any], str | None]] = [
    (
        "user_prompt",
        {"prompt": f"please fix {MARKER}", "prompt_text": MARKER, "prompt_length": 17, "command_name": "review"},
        None,
    ),
    (
        "api_request",
        {
            "model": "claude-opus-4-6",
            "cost_usd": "0.02",
            "input_tokens": 1200,
            "duration_ms": 17,
            "system_prompt": MARKER,
        },
        None,
    ),
    ("api_request_body", {"body": f'{{"messages": [{{"content": "{MARKER}"}}]}}', "model": "claude-opus-4-6"}, None),
    ("api_response_body", {"body": f'{{"content": [{{"text": "{MARKER}"}}]}}', "model": "claude-opus-4-6"}, None),
    ("api_error", {"model": "claude-opus-4-6", "error": ERROR_TEXT, "status_code": "500", "attempt": 2}, None),
    (
        "tool_result",
        {
            "tool_name": "Bash",
            "success": "false",
            "duration_ms": "12",
            "error_type": "exit_code",
            "decision_type": "accept",
            "error": ERROR_TEXT,
            "tool_parameters": TOOL_PARAMETERS,
            "tool_input_size_bytes": 40,
        },
        None,
    ),
    ("tool_decision", {"tool_name": "Bash", "decision": "accept", "source": "config", "tool_input": MARKER}, None),
    ("assistant_response", {"response": MARKER, "response_length": 21, "model": "claude-opus-4-6"}, None),
    (
        "hook_execution_start",
        {
            "hook_event": "PreToolUse",
            "matcher": f"Bash({MARKER}*)",
            "hook_definitions": f'[{{"command": "{MARKER}.sh"}}]',
        },
        None,
    ),
    ("mcp_server_connection", {"status": "failed", "error": ERROR_TEXT, "transport_type": "stdio"}, None),
    ("internal_error", {"error": ERROR_TEXT, "stack": f"at {MARKER} (x.js:1)"}, None),
    ("a_future_event", {"summary": MARKER, "items": 3, "ratio": "0.5", "flag": "true"}, None),
    ("user_prompt", {"prompt_length": 3}, f"typed: {MARKER}"),  # a free body instead of the envelope
]


def _attributes(attributes: dict[str, Any]) -> list[dict[str, Any]]:
    def value(item: Any) -> dict[str, Any]:
        return {"intValue": item} if isinstance(item, int) else {"stringValue": str(item)}

    return [{"key": key, "value": value(item)} for key, item in attributes.items()]


def _logs() -> dict[str, Any]:
    now = otlp.now_ns()
    records = [
        {
            "timeUnixNano": str(now + index),
            "body": {"stringValue": body if body is not None else f"claude_code.{name}"},
            "attributes": _attributes({**IDENT, "event.name": name, "event.sequence": index, **attributes}),
        }
        for index, (name, attributes, body) in enumerate(EVENTS)
    ]
    # A log record of another kind entirely: no event name, a free text body.
    records.append({"timeUnixNano": str(now), "body": {"stringValue": f"debug: {MARKER}"},
                    "attributes": _attributes(IDENT)})  # fmt: skip
    return {
        "resourceLogs": [
            {
                "resource": {"attributes": _attributes({"service.name": "claude-code"})},
                "scopeLogs": [{"scope": {"name": "com.anthropic.claude_code.events"}, "logRecords": records}],
            }
        ]
    }


def _metrics() -> dict[str, Any]:
    now = otlp.now_ns()
    attributes = {**IDENT, "model": "claude-opus-4-6", "prompt": MARKER, "free_text": MARKER}
    return otlp.metrics_request([otlp.sum_metric(otlp.COST, [otlp.point(0.5, attributes, now)], unit="USD")])


def _send_everything(collector: CollectorProcess) -> None:
    for signal, document in (("logs", _logs()), ("metrics", _metrics())):
        response = otlp.post(collector, signal, otlp.to_json(document), JSON)
        assert response.status_code == 200, response.text
        assert response.json() == {}, response.text  # content is reduced, never a reason to refuse a record


def _dump_store(data_dir: Path) -> dict[str, str]:
    """Every table of the store as TSV text, read through the store's client once the collector stopped."""
    client = clickhouse_connect.get_client(dsn=f"chdb://{data_dir / 'chdb'}")
    try:
        tables = [row[0] for row in client.query("SHOW TABLES").result_rows]
        return {
            table: client.raw_query(f"SELECT * FROM `{table}` FORMAT TSV").decode(errors="replace") for table in tables
        }
    finally:
        client.close()


def _stored_events(data_dir: Path) -> dict[str, tuple[str, dict[str, str]]]:
    client = clickhouse_connect.get_client(dsn=f"chdb://{data_dir / 'chdb'}")
    try:
        rows = client.query("SELECT event_name, sequence, body, attributes FROM events").result_rows
        points = client.query("SELECT metric, value, attributes FROM metric_points").result_rows
    finally:
        client.close()
    stored = {f"{name}#{sequence}": (body, dict(attributes)) for name, sequence, body, attributes in rows}
    stored.update({f"point:{metric}": (str(value), dict(attributes)) for metric, value, attributes in points})
    return stored


def test_no_content_is_kept_anywhere_by_default(started, data_dir: Path) -> None:
    collector = start_on(started, data_dir)
    _send_everything(collector)
    totals = collector.analytics(*otlp.day_range(), org=ORG)["totals"]
    assert (totals["spend_usd"], totals["active_users"], totals["sessions"]) == (0.5, 1, 1)
    metrics_text = httpx.get(collector.metrics_url, timeout=10).text
    assert MARKER not in metrics_text
    assert collector.stop() == 0, collector.log()

    tables = _dump_store(data_dir)
    assert {"events", "metric_points", "member_hourly", "team_daily"} <= set(tables)
    leaks = [table for table, text in tables.items() if MARKER in text]
    assert leaks == [], leaks
    assert MARKER not in collector.log()

    stored = _stored_events(data_dir)
    body, tool_result = stored["tool_result#5"]
    assert body == "claude_code.tool_result"
    assert {key: tool_result.get(key) for key in ("tool_name", "success", "duration_ms", "error_type",
                                                  "decision_type", "tool_input_size_bytes")} == {
        "tool_name": "Bash", "success": "false", "duration_ms": "12", "error_type": "exit_code",
        "decision_type": "accept", "tool_input_size_bytes": "40"}  # fmt: skip
    assert tool_result["error_length"] == str(len(ERROR_TEXT))
    assert tool_result["tool_parameters_length"] == str(len(TOOL_PARAMETERS))
    assert "error" not in tool_result and "tool_parameters" not in tool_result
    assert stored["user_prompt#0"][1]["prompt_length"] == "17"
    assert stored["api_request#1"][1]["cost_usd"] == "0.02" and "system_prompt" not in stored["api_request#1"][1]
    assert stored["api_error#4"][1]["status_code"] == "500" and stored["api_error#4"][1]["attempt"] == "2"
    assert stored["api_request_body#2"][1]["body_length"] == str(len(EVENTS[2][1]["body"]))
    assert stored["hook_execution_start#8"][1]["hook_event"] == "PreToolUse"
    future = stored["a_future_event#11"][1]
    assert (future.get("items"), future.get("ratio"), future.get("flag"), "summary" in future) == (
        "3",
        "0.5",
        "true",
        False,
    )
    free_body, free = stored["user_prompt#12"]
    assert free_body == "" and free["body_length"] == str(len(f"typed: {MARKER}"))
    value, point = stored["point:claude_code.cost.usage"]
    assert value == "0.5" and point["model"] == "claude-opus-4-6"
    assert "prompt" not in point and "free_text" not in point and point["prompt_length"] == str(len(MARKER))


def test_everything_is_kept_with_the_content_opt_in(started, data_dir: Path) -> None:
    collector = start_on(started, data_dir, CC_ANALYTICS_PRIVACY_STORE_CONTENT="true")
    _send_everything(collector)
    assert collector.stop() == 0, collector.log()
    stored = _stored_events(data_dir)
    assert stored["tool_result#5"][1]["error"] == ERROR_TEXT
    assert stored["tool_result#5"][1]["tool_parameters"] == TOOL_PARAMETERS
    assert stored["user_prompt#12"][0] == f"typed: {MARKER}"
    assert stored["a_future_event#11"][1]["summary"] == MARKER
    assert stored["point:claude_code.cost.usage"][1]["prompt"] == MARKER
