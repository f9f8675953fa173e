"""Console principals: an operator-managed YAML file of (name, role, SHA-256 of the token).

Tokens are shown once, when created or rotated, and stored only as digests. The running collector
re-reads the file whenever it changes on disk, so `cc-analytics access revoke|rotate` takes effect on
the next request without a restart.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from console.roles import normalise_role

TOKEN_PREFIX = "cca_"


class AccessError(ValueError):
    """The access file is malformed, or a command named a principal that does not exist."""


@dataclass(frozen=True, slots=True)
class Principal:
    id: str
    name: str
    role: str
    sha256: str  # hex digest of the token
    created_at: str = ""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass
class _Snapshot:
    principals: list[Principal]
    session_secret: bytes
    by_digest: dict[str, Principal]
    signature: tuple[int, int, int] | None  # (inode, size, mtime_ns) of the file it was read from


def _read(path: Path) -> tuple[list[Principal], str]:
    if not path.exists():
        return [], ""
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise AccessError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(document, dict):
        raise AccessError(f"{path}: must be a mapping with `principals:`")
    principals = []
    for index, item in enumerate(document.get("principals") or []):
        if not isinstance(item, dict) or not item.get("sha256") or not item.get("name") or not item.get("role"):
            raise AccessError(f"{path}: principals[{index}] needs name, role and sha256")
        try:
            role = normalise_role(str(item["role"]))
        except ValueError as exc:
            raise AccessError(f"{path}: principals[{index}]: {exc}") from None
        principals.append(
            Principal(
                id=str(item.get("id") or f"p{index}"),
                name=str(item["name"]),
                role=role,
                sha256=str(item["sha256"]).lower(),
                created_at=str(item.get("created_at") or ""),
            )
        )
    return principals, str(document.get("session_secret") or "")


class AccessStore:
    """Thread-safe view of the access file, refreshed when the file's inode, size or mtime changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        # Used only until a secret is persisted (ensure_ready); then sessions survive restarts and span instances.
        self._fallback_secret = secrets.token_bytes(32)
        self._snapshot = self._load()

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return None
        return info.st_ino, info.st_size, info.st_mtime_ns

    def _load(self) -> _Snapshot:
        signature = self._stat()
        principals, secret = _read(self.path)
        return _Snapshot(
            principals=principals,
            session_secret=bytes.fromhex(secret) if secret else self._fallback_secret,
            by_digest={principal.sha256: principal for principal in principals},
            signature=signature,
        )

    def _current(self) -> _Snapshot:
        with self._lock:
            if self._stat() != self._snapshot.signature:
                try:
                    self._snapshot = self._load()
                except AccessError:
                    # A half-edited file must not lock everyone out or let anyone in: keep the last good one.
                    pass
            return self._snapshot

    # -- reads -------------------------------------------------------------------------------------
    def principals(self) -> list[Principal]:
        return list(self._current().principals)

    def authenticate(self, token: str) -> Principal | None:
        if not token:
            return None
        return self._current().by_digest.get(digest(token))

    def by_id(self, principal_id: str) -> Principal | None:
        return next((p for p in self._current().principals if p.id == principal_id), None)

    def by_name(self, name: str) -> Principal | None:
        wanted = name.strip().lower()
        return next((p for p in self._current().principals if p.name.lower() == wanted), None)

    @property
    def session_secret(self) -> bytes:
        return self._current().session_secret

    # -- writes (CLI and first start) --------------------------------------------------------------
    def _write(self, principals: list[Principal], secret: str) -> None:
        document = {
            "session_secret": secret or secrets.token_hex(32),
            "principals": [
                {"id": p.id, "name": p.name, "role": p.role, "sha256": p.sha256, "created_at": p.created_at}
                for p in principals
            ],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a reader never sees half a file; 0600 because it holds the session secret.
        handle, temporary = tempfile.mkstemp(prefix=".access-", dir=self.path.parent)
        try:
            with os.fdopen(handle, "w") as stream:
                stream.write("# Console principals: manage with `cc-analytics access add|list|revoke|rotate`.\n")
                yaml.safe_dump(document, stream, sort_keys=False)
            os.chmod(temporary, 0o600)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        with self._lock:
            self._snapshot = self._load()

    def _find(self, principals: list[Principal], key: str) -> int:
        for index, principal in enumerate(principals):
            if principal.id == key or principal.name.lower() == key.strip().lower():
                return index
        raise AccessError(f"no principal named or with id {key!r}")

    def add(self, name: str, role: str) -> tuple[Principal, str]:
        """Create a principal; returns it and its token (shown once, never stored)."""
        principals, secret = _read(self.path)
        role = normalise_role(role)
        if not name.strip():
            raise AccessError("a principal needs a name")
        if any(p.name.lower() == name.strip().lower() for p in principals):
            raise AccessError(f"a principal named {name!r} exists already (rotate or revoke it)")
        token = new_token()
        principal = Principal(
            id="p_" + secrets.token_hex(6),
            name=name.strip(),
            role=role,
            sha256=digest(token),
            created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        self._write([*principals, principal], secret)
        return principal, token

    def revoke(self, key: str) -> Principal:
        principals, secret = _read(self.path)
        removed = principals.pop(self._find(principals, key))
        self._write(principals, secret)
        return removed

    def rotate(self, key: str) -> tuple[Principal, str]:
        principals, secret = _read(self.path)
        index = self._find(principals, key)
        token = new_token()
        old = principals[index]
        principals[index] = Principal(old.id, old.name, old.role, digest(token), old.created_at)
        self._write(principals, secret)
        return principals[index], token

    def ensure_ready(self) -> str | None:
        """At start-up: persist a session secret; with no principals at all, create a Primary Owner and
        return its token (the caller shows it once, as a login URL). Returns None otherwise."""
        principals, secret = _read(self.path)
        if principals:
            if not secret:
                self._write(principals, "")
            return None
        _, token = self.add("owner", "primary_owner")
        return token
