"""Claude Code's counters under their standard OTel→Prometheus names, and where each label comes from."""

from __future__ import annotations

from collections.abc import Callable

from pdata import EventFact, PointFact

# OTel metric name → (Prometheus name under the standard translation, HELP text).
COUNTERS: dict[str, tuple[str, str]] = {
    "claude_code.session.count": ("claude_code_session_count_total", "Sessions started"),
    "claude_code.lines_of_code.count": ("claude_code_lines_of_code_count_total", "Lines of code added or removed"),
    "claude_code.pull_request.count": ("claude_code_pull_request_count_total", "Pull requests created"),
    "claude_code.commit.count": ("claude_code_commit_count_total", "Git commits created"),
    "claude_code.cost.usage": ("claude_code_cost_usage_USD_total", "Cost of API requests in USD"),
    "claude_code.token.usage": ("claude_code_token_usage_tokens_total", "Tokens used"),
    "claude_code.code_edit_tool.decision": (
        "claude_code_code_edit_tool_decision_total",
        "Code-editing tool permission decisions",
    ),
    "claude_code.active_time.total": ("claude_code_active_time_seconds_total", "Active time in seconds"),
}

_MODEL_ATTRIBUTES = frozenset(
    {
        "model", "query_source", "speed", "effort", "agent_name", "skill_name", "plugin_name", "marketplace_name",
        "mcp_server_name", "mcp_tool_name",
    }
)  # fmt: skip

# The attributes each metric carries beyond the standard ones (TELEMETRY.md), as label names. A configured
# label that is specific to some metrics appears only on those; any other configured label is common to all.
SPECIFIC_LABELS: dict[str, frozenset[str]] = {
    # terminal_type only on sessions: on every counter it would multiply them all by the number of terminals.
    "claude_code.session.count": frozenset({"start_type", "terminal_type"}),
    "claude_code.lines_of_code.count": frozenset({"type", "model"}),
    "claude_code.pull_request.count": frozenset(),
    "claude_code.commit.count": frozenset(),
    "claude_code.cost.usage": _MODEL_ATTRIBUTES,
    "claude_code.token.usage": _MODEL_ATTRIBUTES | {"type"},
    "claude_code.code_edit_tool.decision": frozenset({"tool_name", "decision", "source", "language"}),
    "claude_code.active_time.total": frozenset({"type"}),
}
_ALL_SPECIFIC = frozenset().union(*SPECIFIC_LABELS.values())

# Label names whose attribute is not the label with underscores turned back into one obvious dotted name.
_ATTRIBUTE_OF = {
    "terminal_type": "terminal.type",
    "agent_name": "agent.name",
    "skill_name": "skill.name",
    "plugin_name": "plugin.name",
    "marketplace_name": "marketplace.name",
    "mcp_server_name": "mcp_server.name",
    "mcp_tool_name": "mcp_tool.name",
    "app_version": "app.version",
    "app_entrypoint": "app.entrypoint",
    "user_id": "user.id",
    "user_email": "user.email",
    "user_account_id": "user.account_id",
    "user_account_uuid": "user.account_uuid",
    "service_version": "service.version",
    "os_type": "os.type",
    "os_version": "os.version",
    "host_arch": "host.arch",
}

Getter = Callable[[PointFact], str]


def labels_of(metric: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """The label names a metric's series may carry, in allow-list order."""
    specific = SPECIFIC_LABELS[metric]
    return tuple(label for label in allowed if label in specific or label not in _ALL_SPECIFIC)


def member_getter(label: str) -> Callable[[PointFact | EventFact], str] | None:
    """How to read a label that points and events both take from the resolved member (and the tool name the
    processors settled on); None for any other label."""
    if label == "organization_id":
        return lambda fact: fact.member.organization_id
    if label == "team":
        return lambda fact: fact.member.team
    if label == "member":
        return lambda fact: fact.member.member
    if label == "tool_name":
        return lambda fact: fact.tool_name
    return None


def getter(label: str) -> Getter:
    """How to read one label's value from a committed fact: identity labels from the resolved member."""
    shared = member_getter(label)
    if shared is not None:
        return shared
    dotted = _ATTRIBUTE_OF.get(label, label)

    def read(fact: PointFact) -> str:
        attributes = fact.point.attributes
        return attributes.get(label) or attributes.get(dotted) or fact.point.resource.get(dotted) or ""

    return read
