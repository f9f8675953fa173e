"""Anthropic's eight organisation roles and which of them may read analytics (TELEMETRY.md, reference)."""

from __future__ import annotations

# slug -> display name, in the console's order.
ROLES: dict[str, str] = {
    "primary_owner": "Primary Owner",
    "owner": "Owner",
    "billing": "Billing",
    "admin": "Admin",
    "developer": "Developer",
    "user": "User",
    "claude_code_user": "Claude Code User",
    "membership_admin": "Membership Admin",
}

# Anthropic's console shows Analytics to these roles only; the other three get 403.
ANALYTICS_ROLES: frozenset[str] = frozenset({"primary_owner", "owner", "billing", "admin", "developer"})


def normalise_role(text: str) -> str:
    """Accept a slug or a display name ("Claude Code User", "claude-code-user") and return the slug."""
    slug = text.strip().lower().replace("-", "_").replace(" ", "_")
    if slug not in ROLES:
        raise ValueError(f"unknown role {text!r}; one of: {', '.join(ROLES)}")
    return slug


def may_read_analytics(role: str) -> bool:
    return role in ANALYTICS_ROLES
