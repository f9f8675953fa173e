from __future__ import annotations

from pdata import MetricPoint

# The code-editing tools whose decisions make the proposal acceptance rate.
CODE_EDIT_TOOLS = frozenset({"Edit", "MultiEdit", "Write", "NotebookEdit"})

_TOKEN_FACTS = {
    "input": "tokens_input",
    "output": "tokens_output",
    "cacheRead": "tokens_cache_read",
    "cacheCreation": "tokens_cache_creation",
}

_SIMPLE_FACTS = {
    "claude_code.cost.usage": "cost_usd",
    "claude_code.session.count": "session_start",
    "claude_code.commit.count": "commit",
    "claude_code.pull_request.count": "pull_request",
    "claude_code.active_time.total": "active_seconds",
}


def tool_name_of(attributes: dict[str, str]) -> str:
    # Older clients name the attribute `tool`.
    return attributes.get("tool_name") or attributes.get("tool") or ""


def fact_of(point: MetricPoint) -> str:
    """The analytics fact a point's value feeds, or "" when it feeds none (it is still stored)."""
    metric = point.metric
    simple = _SIMPLE_FACTS.get(metric)
    if simple is not None:
        return simple
    attributes = point.attributes
    if metric == "claude_code.lines_of_code.count":
        kind = attributes.get("type", "")
        return {"added": "lines_added", "removed": "lines_removed"}.get(kind, "")
    if metric == "claude_code.code_edit_tool.decision":
        if tool_name_of(attributes) not in CODE_EDIT_TOOLS:
            return ""
        return {"accept": "edit_accept", "reject": "edit_reject"}.get(attributes.get("decision", ""), "")
    if metric == "claude_code.token.usage":
        return _TOKEN_FACTS.get(attributes.get("type", ""), "")
    return ""
