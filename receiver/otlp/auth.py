"""Ingest tokens: who a sender is. Tokens are compared by SHA-256 digest and never logged."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

import yaml

from pdata import Sender


class Unauthenticated(Exception):
    """No token, or one the operator did not configure."""


@dataclass(frozen=True, slots=True)
class _Entry:
    digest: bytes
    sender: Sender


class TokenAuth:
    """Maps `Authorization: Bearer <token>` to a Sender (its API key id and organization).

    With no tokens configured every request is accepted as an anonymous sender; with tokens, a request
    without a known one is refused unless `required` is False.
    """

    def __init__(self, entries: list[_Entry], required: bool) -> None:
        self._entries = entries
        self.required = required

    @classmethod
    def open(cls) -> TokenAuth:
        return cls([], required=False)

    @classmethod
    def from_file(cls, path: Path, required: bool | None = None) -> TokenAuth:
        document = yaml.safe_load(path.read_text()) or {}
        raw = document.get("tokens", []) if isinstance(document, dict) else []
        entries = []
        for index, item in enumerate(raw):
            if not isinstance(item, dict):
                raise ValueError(f"{path}: tokens[{index}] must be a mapping")
            if item.get("sha256"):
                digest = bytes.fromhex(str(item["sha256"]))
            elif item.get("token"):
                digest = hashlib.sha256(str(item["token"]).encode()).digest()
            else:
                raise ValueError(f"{path}: tokens[{index}] needs token or sha256")
            sender = Sender(
                token_name=str(item.get("name") or f"token-{index}"),
                api_key_id=str(item.get("api_key_id") or ""),
                organization_id=str(item.get("organization_id") or ""),
            )
            entries.append(_Entry(digest, sender))
        return cls(entries, required=bool(entries) if required is None else required)

    def sender_for(self, authorization: str | None) -> Sender:
        token = _bearer(authorization)
        if token:
            digest = hashlib.sha256(token.encode()).digest()
            for entry in self._entries:
                if hmac.compare_digest(entry.digest, digest):
                    return entry.sender
        if self.required:
            raise Unauthenticated("missing or unknown ingest token" if token is None else "unknown ingest token")
        return Sender()


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
