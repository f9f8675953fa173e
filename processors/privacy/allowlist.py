"""What of a point or an event may be stored without the operator's content opt-in (`privacy.store_content`).

An allow-list, not a deny-list: Claude Code adds events and attributes in most releases, and a new one must not
be stored just because nobody listed it as private. Per attribute, in order:

1. in the allow-list (the standard identity and session attributes, plus the documented non-content fields of
   the metric or event, TELEMETRY.md): kept;
2. a known content field (`CONTENT_ATTRIBUTES`: prompt, response, tool parameters, error text, raw API bodies,
   hook matchers, …): reduced to its length, `<name>_length` (unless the sender sent that length itself);
3. the same key and value as on the resource (`OTEL_RESOURCE_ATTRIBUTES`, which newer clients copy onto each
   point): kept, as the resource itself is (the operator's deployment labels, not what a user typed);
4. a plain number or true/false (a count, a size, a flag; no text fits in it): kept;
5. anything else: dropped.

Log bodies: Claude Code's is the envelope `claude_code.<event>`; any other body is free text, dropped and
reduced to `body_length`. With the opt-in everything is kept as sent.

The cumulative series key and the member are computed from the attributes as sent, before this filter, so
turning the opt-in on or off never splits a series or a member.
"""

from __future__ import annotations

import re

from pdata import LogEvent, MetricPoint

# On every point and event: who, which session, where from (TELEMETRY.md, standard attributes and envelope).
STANDARD_ATTRIBUTES = frozenset({
    "user.id", "user.email", "user.account_uuid", "user.account_id", "organization.id", "session.id",
    "terminal.type", "app.version", "app.entrypoint", "team.id",
    "vcs.repository.url.full", "vcs.owner.name", "vcs.repository.name", "vcs.provider.name",
    "anthropic.provider", "anthropic.custom_base_url",
    "event.name", "event.timestamp", "event.sequence", "prompt.id", "message.uuid",
})  # fmt: skip

# Text that carries what a user typed, what a tool received or answered, or what an upstream said.
CONTENT_ATTRIBUTES = frozenset({
    "prompt", "prompt_text", "system_prompt", "response", "content", "text", "message", "body",
    "tool_parameters", "tool_input", "tool_output", "command", "full_command", "bash_command", "description",
    "error", "error_message", "stack", "matcher", "hook_matcher", "hook_definitions",
})  # fmt: skip

_USAGE = frozenset({
    "model", "query_source", "speed", "effort", "agent.name", "skill.name", "plugin.name", "marketplace.name",
    "mcp_server.name", "mcp_tool.name",
})  # fmt: skip

METRIC_ATTRIBUTES: dict[str, frozenset[str]] = {
    "claude_code.session.count": frozenset({"start_type"}),
    "claude_code.lines_of_code.count": frozenset({"type", "model"}),
    "claude_code.pull_request.count": frozenset(),
    "claude_code.commit.count": frozenset(),
    "claude_code.cost.usage": _USAGE,
    "claude_code.token.usage": _USAGE | {"type"},
    "claude_code.code_edit_tool.decision": frozenset({"tool_name", "tool", "decision", "source", "language"}),
    "claude_code.active_time.total": frozenset({"type"}),
}

_API = _USAGE | {"request_id", "duration_ms", "attempt", "status_code", "error_type"}
_TOOL = frozenset({
    "tool_name", "tool", "tool_use_id", "tool_source", "request_id", "mcp_server.name", "mcp_tool.name",
    "mcp_server_scope", "skill.name", "plugin.name", "marketplace.name",
})  # fmt: skip

# fmt: off
EVENT_ATTRIBUTES: dict[str, frozenset[str]] = {
    "user_prompt": frozenset({"prompt_length", "command_name", "command_source"}),
    "api_request": _API | {
        "cost_usd", "cost_usd_micros", "ttft_ms", "input_tokens", "output_tokens", "cache_read_tokens",
        "cache_creation_tokens", "cache_creation_5m_tokens", "cache_creation_1h_tokens",
    },
    "api_error": _API,
    "api_refusal": _API | {"stop_reason"},
    "api_retries_exhausted": _API | {"attempts"},
    "api_request_body": _API,
    "api_response_body": _API,
    "tool_decision": _TOOL | {"decision", "source", "permission_mode"},
    "tool_result": _TOOL | {
        "success", "duration_ms", "error_type", "decision_type", "decision_source", "tool_input_size_bytes",
        "tool_result_size_bytes",
    },
    "assistant_response": frozenset({"response_length", "model", "query_source", "request_id", "stop_reason"}),
    "compaction": frozenset({"trigger", "model", "duration_ms", "success"}),
    "subagent_completed": frozenset({"agent.name", "agent_type", "model", "duration_ms", "success"}),
    "mcp_server_connection": frozenset({"mcp_server.name", "status", "transport_type", "server_scope",
                                        "duration_ms", "error_type"}),
    "skill_activated": frozenset({"skill.name", "skill_source", "plugin.name", "marketplace.name"}),
    "permission_mode_changed": frozenset({"from_mode", "to_mode", "permission_mode", "source", "trigger"}),
    "auth": frozenset({"auth_method", "method", "status", "success"}),
    "at_mention": frozenset({"mention_type", "success"}),
    "internal_error": frozenset({"error_type", "component"}),
    "feedback_survey": frozenset({"survey_type", "rating"}),
    "managed_settings_resolved": frozenset({
        "managed_settings.trigger", "managed_settings.source_behavior", "managed_settings.helper.state",
        "managed_settings.helper.applied",
    }),
}

# Families of events named by prefix (hook_execution_start, hook_execution_complete, plugin_loaded, …).
EVENT_PREFIX_ATTRIBUTES: tuple[tuple[str, frozenset[str]], ...] = (
    ("hook_", frozenset({"hook_event", "hook_event_name", "hook_source", "tool_name", "success", "duration_ms",
                         "exit_code"})),
    ("plugin_", frozenset({"plugin.name", "marketplace.name", "plugin.scope", "plugin.version", "enabled_via",
                           "plugin_id_hash", "error_type"})),
)
# fmt: on

_ENVELOPE = re.compile(r"claude_code\.[A-Za-z0-9_.]+")
_NUMBER_OR_FLAG = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|true|false")
# A longer "number" is an identifier or something typed, not a count.
_MAX_NUMBER_CHARS = 24


def _allowed_for_event(name: str) -> frozenset[str]:
    extra = EVENT_ATTRIBUTES.get(name)
    if extra is None:
        extra = next((allowed for prefix, allowed in EVENT_PREFIX_ATTRIBUTES if name.startswith(prefix)), frozenset())
    return STANDARD_ATTRIBUTES | extra


class PrivacyFilter:
    """Applies the allow-list to what the processors emit; `store_content=True` keeps everything."""

    def __init__(self, store_content: bool = False) -> None:
        self.store_content = store_content
        self._metric_allowed = {metric: STANDARD_ATTRIBUTES | extra for metric, extra in METRIC_ATTRIBUTES.items()}
        self._event_allowed: dict[str, frozenset[str]] = {}

    def point(self, point: MetricPoint) -> MetricPoint:
        """The point as it may be stored: the same object when nothing is to be removed."""
        if self.store_content:
            return point
        allowed = self._metric_allowed.get(point.metric, STANDARD_ATTRIBUTES)
        if allowed.issuperset(point.attributes):
            return point
        filtered = _filtered(point.attributes, allowed, point.resource)
        # Built directly: dataclasses.replace costs several times more, once per point of the hot path.
        return MetricPoint(point.metric, point.unit, point.temporality, point.monotonic, point.start_ns, point.time_ns,
                           point.value, filtered, point.resource, point.scope)  # fmt: skip

    def event(self, event: LogEvent) -> tuple[LogEvent, dict[str, str]]:
        """(the event as it may be stored, its attributes as they may be stored)."""
        attributes = event.attributes
        if self.store_content:
            return event, attributes
        allowed = self._event_allowed.get(event.name)
        if allowed is None:
            # Bounded: event names come from senders; past a few hundred, compute without caching.
            allowed = _allowed_for_event(event.name)
            if len(self._event_allowed) < 512:
                self._event_allowed[event.name] = allowed
        if not allowed.issuperset(attributes):
            attributes = _filtered(attributes, allowed, event.resource)
        body = event.body
        if body and not _ENVELOPE.fullmatch(body):
            if attributes is event.attributes:
                attributes = dict(attributes)
            attributes.setdefault("body_length", str(len(body)))
            event = LogEvent(event.time_ns, event.name, "", attributes, event.resource, event.scope, event.severity)
        return event, attributes


def _filtered(attributes: dict[str, str], allowed: frozenset[str], resource: dict[str, str]) -> dict[str, str]:
    kept: dict[str, str] = {}
    lengths: dict[str, str] = {}
    for key, value in attributes.items():
        if key in allowed:
            kept[key] = value
        elif key in CONTENT_ATTRIBUTES:
            lengths[f"{key}_length"] = str(len(value))
        elif resource.get(key) == value or (len(value) <= _MAX_NUMBER_CHARS and _NUMBER_OR_FLAG.fullmatch(value)):
            kept[key] = value
    for key, length in lengths.items():
        kept.setdefault(key, length)
    return kept
