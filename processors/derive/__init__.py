"""Derivation of the analytics facts from Claude Code's metrics (ARCHITECTURE.md, Semantics)."""

from pdata.vocabulary import CODE_EDIT_TOOLS, FACTS
from processors.derive.facts import fact_of, tool_name_of

__all__ = ["CODE_EDIT_TOOLS", "FACTS", "fact_of", "tool_name_of"]
