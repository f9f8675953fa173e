"""Privacy by allow-list (processors/privacy): without the content opt-in only the standard attributes and the
documented non-content fields are stored; content is reduced to its length; unknown text is dropped."""

from __future__ import annotations

from pdata import DELTA, Batch, LogEvent, MetricPoint, Sender
from processors.chain import ProcessorChain
from processors.dedup import RequestDeduplicator
from processors.identity import IdentityResolver
from processors.privacy import PrivacyFilter
from processors.temporality import CumulativeToDelta, series_key

IDENT = {"user.id": "u1", "session.id": "s1", "user.email": "a@example.com", "organization.id": "org"}
SECRET = "the user's secret text"


def event(name: str, attributes: dict[str, str], body: str | None = None, resource: dict | None = None) -> LogEvent:
    return LogEvent(1, name, f"claude_code.{name}" if body is None else body, {**IDENT, **attributes}, resource or {})


def test_tool_result_keeps_its_documented_fields_and_only_the_length_of_content() -> None:
    stored, attributes = PrivacyFilter().event(event("tool_result", {
        "tool_name": "Bash", "success": "false", "duration_ms": "12", "error_type": "exit_code",
        "decision_type": "accept", "tool_input_size_bytes": "40", "error": SECRET,
        "tool_parameters": '{"bash_command": "cat secret"}', "notes": SECRET,
    }))  # fmt: skip
    assert attributes == {
        **IDENT, "tool_name": "Bash", "success": "false", "duration_ms": "12", "error_type": "exit_code",
        "decision_type": "accept", "tool_input_size_bytes": "40", "error_length": str(len(SECRET)),
        "tool_parameters_length": "30",
    }  # fmt: skip
    assert stored.body == "claude_code.tool_result"


def test_the_senders_own_length_wins_and_redacted_prompts_leave_nothing() -> None:
    _, attributes = PrivacyFilter().event(event("user_prompt", {"prompt": "<REDACTED>", "prompt_length": "28"}))
    assert attributes == {**IDENT, "prompt_length": "28"}


def test_an_unknown_event_keeps_identity_numbers_and_flags_only() -> None:
    _, attributes = PrivacyFilter().event(event("shiny_new_event", {
        "summary": SECRET, "items": "3", "ratio": "0.5", "flag": "true", "card": "4111111111111111111111111111",
        "matcher": "Bash(rm*)",
    }))  # fmt: skip
    assert attributes == {**IDENT, "items": "3", "ratio": "0.5", "flag": "true", "matcher_length": "9"}


def test_raw_api_bodies_and_free_log_bodies_are_reduced_to_their_length() -> None:
    privacy = PrivacyFilter()
    _, attributes = privacy.event(event("api_request_body", {"body": '{"messages": []}', "model": "m"}))
    assert attributes == {**IDENT, "model": "m", "body_length": "16"}
    stored, attributes = privacy.event(event("", {}, body=f"debug: {SECRET}"))
    assert stored.body == "" and attributes == {**IDENT, "body_length": str(len(SECRET) + 7)}


def test_hook_events_keep_the_hook_event_never_the_matcher() -> None:
    _, attributes = PrivacyFilter().event(
        event("hook_execution_start", {"hook_event": "PreToolUse", "matcher": "Bash(*)", "hook_definitions": "[]"})
    )
    assert attributes == {**IDENT, "hook_event": "PreToolUse", "matcher_length": "7", "hook_definitions_length": "2"}


def test_resource_attributes_copied_onto_records_are_kept() -> None:
    _, attributes = PrivacyFilter().event(
        event("user_prompt", {"department": "platform", "other": "x"}, resource={"department": "platform"})
    )
    assert attributes == {**IDENT, "department": "platform"}


def _point(**attributes: str) -> MetricPoint:
    return MetricPoint("claude_code.cost.usage", "USD", DELTA, True, 1, 2, 0.5, {**IDENT, **attributes}, {})


def test_metric_points_keep_their_documented_attributes() -> None:
    privacy = PrivacyFilter()
    clean = _point(model="m", query_source="main")
    assert privacy.point(clean) is clean  # nothing to remove: no copy
    stored = privacy.point(_point(model="m", prompt=SECRET, free_text=SECRET))
    assert stored.attributes == {**IDENT, "model": "m", "prompt_length": str(len(SECRET))}


def test_the_opt_in_keeps_everything() -> None:
    privacy = PrivacyFilter(store_content=True)
    original = event("tool_result", {"error": SECRET}, body=SECRET)
    assert privacy.event(original) == (original, original.attributes)
    point = _point(prompt=SECRET)
    assert privacy.point(point) is point


def test_the_chain_keys_series_and_members_on_what_was_sent() -> None:
    """The filter changes what is stored, never which series or member a point belongs to."""
    chain = ProcessorChain(IdentityResolver(), CumulativeToDelta(), RequestDeduplicator(10**15))
    sent = _point(model="m", prompt=SECRET)
    batch = Batch("metrics", b"d", Sender(), 1, [sent])
    fact = chain.process([batch]).points[0]
    assert fact.series_key == series_key(_point(model="m", prompt=SECRET), Sender())
    assert "prompt" not in fact.point.attributes and fact.member.member == "a@example.com"
    assert sent.attributes["prompt"] == SECRET  # the batch itself is left as it came
