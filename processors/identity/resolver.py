from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from pdata import Member, Sender
from pdata.model import MemberKind

_KINDS: tuple[MemberKind, ...] = ("email", "api_key", "account", "anonymous")


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    """An operator's mapping of an anonymous `user.id` to a known member."""

    member: str
    kind: MemberKind
    team: str = ""


def load_directory(path: Path | None) -> dict[str, DirectoryEntry]:
    """Read `directory:` entries ({user_id, member, kind?, team?}) from a YAML file."""
    if path is None:
        return {}
    document = yaml.safe_load(path.read_text()) or {}
    entries = document.get("directory", []) if isinstance(document, dict) else []
    directory: dict[str, DirectoryEntry] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not entry.get("user_id") or not entry.get("member"):
            raise ValueError(f"{path}: directory[{index}] needs user_id and member")
        member = str(entry["member"])
        kind = entry.get("kind") or ("email" if "@" in member else "account")
        if kind not in _KINDS:
            raise ValueError(f"{path}: directory[{index}].kind must be one of {', '.join(_KINDS)}")
        directory[str(entry["user_id"])] = DirectoryEntry(member=member, kind=kind, team=str(entry.get("team") or ""))
    return directory


class IdentityResolver:
    """Resolution order: user.email → user.account_id / user.account_uuid → the sender's API key →
    the directory's mapping of user.id → the raw user.id."""

    def __init__(self, directory: dict[str, DirectoryEntry] | None = None) -> None:
        self._directory = directory or {}

    def resolve(self, attributes: dict[str, str], resource: dict[str, str], sender: Sender) -> Member:
        def attribute(key: str) -> str:
            return attributes.get(key) or resource.get(key) or ""

        organization = attribute("organization.id") or sender.organization_id
        user_id = attribute("user.id")
        entry = self._directory.get(user_id) if user_id else None
        team = (entry.team if entry else "") or attribute("team.id")

        email = attribute("user.email")
        if email:
            return Member(email, "email", organization, team)
        account = attribute("user.account_id") or attribute("user.account_uuid")
        if account:
            return Member(account, "account", organization, team)
        if sender.api_key_id:
            return Member(sender.api_key_id, "api_key", organization, team)
        if entry is not None:
            return Member(entry.member, entry.kind, organization, team)
        return Member(user_id or "unknown", "anonymous", organization, team)
