from __future__ import annotations

from pdata import MetricPoint
from pdata import vocabulary as facts
from pdata.vocabulary import CODE_EDIT_TOOLS

_TOKEN_FACTS = {
    "input": facts.TOKENS_INPUT,
    "output": facts.TOKENS_OUTPUT,
    "cacheRead": facts.TOKENS_CACHE_READ,
    "cacheCreation": facts.TOKENS_CACHE_CREATION,
}

_SIMPLE_FACTS = {
    "claude_code.cost.usage": facts.COST_USD,
    "claude_code.session.count": facts.SESSION_START,
    "claude_code.commit.count": facts.COMMIT,
    "claude_code.pull_request.count": facts.PULL_REQUEST,
    "claude_code.active_time.total": facts.ACTIVE_SECONDS,
}
_LINES_FACTS = {"added": facts.LINES_ADDED, "removed": facts.LINES_REMOVED}
_DECISION_FACTS = {"accept": facts.EDIT_ACCEPT, "reject": facts.EDIT_REJECT}


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
        return _LINES_FACTS.get(attributes.get("type", ""), "")
    if metric == "claude_code.code_edit_tool.decision":
        if tool_name_of(attributes) not in CODE_EDIT_TOOLS:
            return ""
        return _DECISION_FACTS.get(attributes.get("decision", ""), "")
    if metric == "claude_code.token.usage":
        return _TOKEN_FACTS.get(attributes.get("type", ""), "")
    return ""
