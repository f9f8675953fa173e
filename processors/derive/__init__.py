"""Derivation of the analytics facts from Claude Code's metrics (ARCHITECTURE.md, Semantics)."""

from processors.derive.facts import CODE_EDIT_TOOLS, fact_of, tool_name_of

__all__ = ["CODE_EDIT_TOOLS", "fact_of", "tool_name_of"]
