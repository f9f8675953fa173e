from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pdata import Member, Sender
from pdata.model import MemberKind
from pdata.yamlfile import load_yaml, value_kind

_KINDS: tuple[MemberKind, ...] = ("email", "api_key", "account", "anonymous")
_ENTRY_KEYS = ("user_id", "member", "kind", "team")


class DirectoryFileError(ValueError):
    """The directory file cannot be used; the message names the file, the entry and what is wrong."""


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    """An operator's mapping of an anonymous `user.id` to a known member."""

    member: str
    kind: MemberKind
    team: str = ""


def load_directory(path: Path | None) -> dict[str, DirectoryEntry]:
    """Read `directory:` entries ({user_id, member, kind?, team?}) from a YAML file.

    Raises DirectoryFileError naming the file, the entry and the fault, never a parser's traceback."""
    if path is None:
        return {}
    document = load_yaml(path, "the directory file", DirectoryFileError)
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise DirectoryFileError(f"{path}: must be a mapping with a `directory:` list")
    entries = document.get("directory")
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise DirectoryFileError(f"{path}: directory must be a list, got {value_kind(entries)}")
    directory: dict[str, DirectoryEntry] = {}
    for index, entry in enumerate(entries):
        where = f"{path}: directory[{index}]"
        if not isinstance(entry, dict):
            raise DirectoryFileError(
                f"{where}: must be a mapping (user_id, member, kind, team), got {value_kind(entry)}"
            )
        unknown = sorted(str(key) for key in entry if key not in _ENTRY_KEYS)
        if unknown:
            raise DirectoryFileError(f"{where}: unknown key {unknown[0]!r} (expected {', '.join(_ENTRY_KEYS)})")
        user_id, member = _text(where, entry, "user_id"), _text(where, entry, "member")
        if not user_id or not member:
            raise DirectoryFileError(f"{where}: needs user_id and member")
        kind = _text(where, entry, "kind") or ("email" if "@" in member else "account")
        if kind not in _KINDS:
            raise DirectoryFileError(f"{where}: kind must be one of {', '.join(_KINDS)}")
        directory[user_id] = DirectoryEntry(member=member, kind=kind, team=_text(where, entry, "team"))
    return directory


def _text(where: str, entry: dict[str, Any], key: str) -> str:
    value = entry.get(key)
    if value is None:
        return ""
    # A YAML number would be silently rewritten (an all-digit user.id loses its leading zeros): refuse it.
    if not isinstance(value, str):
        raise DirectoryFileError(f"{where}: {key} must be a string (quote it), got {value_kind(value)}")
    return value.strip()


# Every attribute resolve() reads, point first then resource: key() is their values, so two points share one
# resolution only if all of these agree (tests/unit/test_identity_key.py checks resolve() reads no other).
IDENTITY_ATTRIBUTES: tuple[str, ...] = (
    "user.email",
    "user.account_id",
    "user.account_uuid",
    "user.id",
    "organization.id",
    "team.id",
)


class IdentityResolver:
    """Resolution order: user.email → user.account_id / user.account_uuid → the sender's API key →
    the directory's mapping of user.id → the raw user.id.

    The organization is the ingest token's when the token is bound to one (the receiver has already refused
    points claiming another, unless the operator chose to override them), else the point's `organization.id`."""

    def __init__(self, directory: dict[str, DirectoryEntry] | None = None) -> None:
        self._directory = directory or {}

    @staticmethod
    def key(attributes: dict[str, str], resource: dict[str, str]) -> tuple[str, ...]:
        """What resolve() depends on besides the sender: equal keys (same sender) resolve to the same member."""
        # Spelt out, one lookup pair per name of IDENTITY_ATTRIBUTES in its order: this runs for every point and
        # event the writer stores, and a generator over the names costs it several times as much.
        get, resource_get = attributes.get, resource.get
        return (
            get("user.email") or resource_get("user.email") or "",
            get("user.account_id") or resource_get("user.account_id") or "",
            get("user.account_uuid") or resource_get("user.account_uuid") or "",
            get("user.id") or resource_get("user.id") or "",
            get("organization.id") or resource_get("organization.id") or "",
            get("team.id") or resource_get("team.id") or "",
        )

    def resolve(self, attributes: dict[str, str], resource: dict[str, str], sender: Sender) -> Member:
        def attribute(key: str) -> str:
            return attributes.get(key) or resource.get(key) or ""

        organization = sender.organization_id or attribute("organization.id")
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
