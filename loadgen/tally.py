"""The figures a set of requests contributes to the analytics, counted as they are generated."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Tally:
    """What a set of requests contributes to the analytics (ARCHITECTURE.md, Semantics)."""

    requests: int = 0
    points: int = 0
    records: int = 0
    accepted_lines: int = 0
    removed_lines: int = 0
    accepts: int = 0
    rejects: int = 0
    spend_micros: int = 0  # integer micro-dollars: exact however the additions are ordered
    members: set[tuple[str, str]] = field(default_factory=set)  # (member_type, member)
    sessions: set[str] = field(default_factory=set)

    @property
    def items(self) -> int:
        return self.points + self.records

    @property
    def spend_usd(self) -> float:
        return self.spend_micros / 1_000_000

    def add(self, other: Tally) -> None:
        self.requests += other.requests
        self.points += other.points
        self.records += other.records
        self.accepted_lines += other.accepted_lines
        self.removed_lines += other.removed_lines
        self.accepts += other.accepts
        self.rejects += other.rejects
        self.spend_micros += other.spend_micros
        self.members |= other.members
        self.sessions |= other.sessions

    def figures(self) -> dict[str, Any]:
        """The API's `totals` as this traffic should make them."""
        decided = self.accepts + self.rejects
        return {
            "accepted_lines": self.accepted_lines,
            "removed_lines": self.removed_lines,
            "accepts": self.accepts,
            "rejects": self.rejects,
            "acceptance_rate": None if decided == 0 else self.accepts / decided,
            "active_users": len(self.members),
            "sessions": len(self.sessions),
            "spend_usd": round(self.spend_usd, 6),
        }
