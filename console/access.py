"""Console principals: an operator-managed YAML file of (name, role, SHA-256 of the token).

Tokens are shown once, when created or rotated, and stored only as digests. The running collector
re-reads the file whenever it changes on disk, so `cc-analytics access revoke|rotate` takes effect on
the next request without a restart. A file that cannot be read or parsed mid-run keeps the last good
principals (and logs one line); at start-up it stops the collector with one line naming the fault.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from console.roles import normalise_role
from pdata.yamlfile import load_yaml, read_failure, value_kind

log = logging.getLogger("cc_analytics.console")

TOKEN_PREFIX = "cca_"
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
_SECRET_HEX = re.compile(r"(?:[0-9a-fA-F]{2}){16,}")  # at least 128 bits
_MIN_INITIAL_TOKEN_CHARS = 16


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
    signature: tuple[int, ...] | None  # (inode, size, mtime_ns, ctime_ns) of the file it was read from


def _read(path: Path) -> tuple[list[Principal], str]:
    """The principals and the session secret (hex); AccessError names the file, the entry and the fault."""
    document = load_yaml(path, "the access file", AccessError, missing_ok=True)
    if document is None:
        return [], ""
    if not isinstance(document, dict):
        raise AccessError(f"{path}: must be a mapping with `principals:`")
    secret = document.get("session_secret") or ""
    if secret and not (isinstance(secret, str) and _SECRET_HEX.fullmatch(secret)):
        raise AccessError(f"{path}: session_secret must be hexadecimal text of at least 32 characters")
    items = document.get("principals") or []
    if not isinstance(items, list):
        raise AccessError(f"{path}: principals must be a list, got {value_kind(items)}")
    return [_principal(f"{path}: principals[{index}]", index, item) for index, item in enumerate(items)], secret


def _principal(where: str, index: int, item: object) -> Principal:
    if not isinstance(item, dict) or not item.get("sha256") or not item.get("name") or not item.get("role"):
        raise AccessError(f"{where}: needs name, role and sha256")
    sha256 = item["sha256"]
    if not isinstance(sha256, str) or not _SHA256_HEX.fullmatch(sha256):
        raise AccessError(f"{where}: sha256 must be 64 hexadecimal characters (the token's SHA-256 digest)")
    try:
        role = normalise_role(str(item["role"]))
    except ValueError as exc:
        raise AccessError(f"{where}: {exc}") from None
    return Principal(
        id=str(item.get("id") or f"p{index}"),
        name=str(item["name"]),
        role=role,
        sha256=sha256.lower(),
        created_at=str(item.get("created_at") or ""),
    )


def read_initial_owner(path: Path) -> str:
    """The SHA-256 (hex) of the first Primary Owner's token, from a file holding the token itself or
    `sha256:<64 hex>` (e.g. a mounted secret), so that nothing is printed at first start."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise AccessError(f"{path}: cannot read the initial owner token file: {read_failure(exc)}") from None
    if text.lower().startswith("sha256:"):
        hexdigest = text[len("sha256:") :].strip()
        if not _SHA256_HEX.fullmatch(hexdigest):
            raise AccessError(f"{path}: after sha256: expected 64 hexadecimal characters (the token's SHA-256)")
        return hexdigest.lower()
    if len(text) < _MIN_INITIAL_TOKEN_CHARS or any(character.isspace() for character in text):
        raise AccessError(
            f"{path}: the initial owner token must be one line of at least {_MIN_INITIAL_TOKEN_CHARS} characters "
            "without spaces, or sha256:<hex digest>"
        )
    return digest(text)


class AccessStore:
    """Thread-safe view of the access file, refreshed when the file's inode, size or mtime changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._failed_signature: tuple[int, ...] | None = None
        # Used only until a secret is persisted (ensure_ready); then sessions survive restarts and span instances.
        self._fallback_secret = secrets.token_bytes(32)
        self._snapshot = self._load()  # AccessError when the file is malformed: the caller stops with it

    def _stat(self) -> tuple[int, ...] | None:
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            return (-1, exc.errno or 0)
        return info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns

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
            signature = self._stat()
            if signature != self._snapshot.signature and signature != self._failed_signature:
                try:
                    self._snapshot = self._load()
                    self._failed_signature = None
                except AccessError as exc:
                    # A half-edited or unreadable file must not lock everyone out or let anyone in: keep the
                    # last good one, and say so once per faulty state of the file.
                    self._failed_signature = signature
                    log.error(
                        "console.access_reload_failed",
                        extra={"fields": {"file": str(self.path), "error": str(exc),
                                          "principals_kept": len(self._snapshot.principals)}},
                    )  # fmt: skip
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
        try:
            self._replace_file(document)
        except OSError as exc:
            raise AccessError(f"{self.path}: cannot write the access file: {exc.strerror or exc}") from None
        with self._lock:
            self._snapshot = self._load()

    def _replace_file(self, document: dict) -> None:
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

    def _find(self, principals: list[Principal], key: str) -> int:
        for index, principal in enumerate(principals):
            if principal.id == key or principal.name.lower() == key.strip().lower():
                return index
        raise AccessError(f"no principal named or with id {key!r}")

    def add(self, name: str, role: str) -> tuple[Principal, str]:
        """Create a principal; returns it and its token (shown once, never stored)."""
        token = new_token()
        return self._add(name, role, digest(token)), token

    def _add(self, name: str, role: str, sha256: str) -> Principal:
        principals, secret = _read(self.path)
        role = normalise_role(role)
        if not name.strip():
            raise AccessError("a principal needs a name")
        if any(p.name.lower() == name.strip().lower() for p in principals):
            raise AccessError(f"a principal named {name!r} exists already (rotate or revoke it)")
        principal = Principal(
            id="p_" + secrets.token_hex(6),
            name=name.strip(),
            role=role,
            sha256=sha256,
            created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        self._write([*principals, principal], secret)
        return principal

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

    def ensure_ready(self, initial_owner_sha256: str = "") -> str | None:
        """At start-up: persist a session secret; with no principals at all, create a Primary Owner and
        return its token (the caller shows it once, as a login URL). With `initial_owner_sha256` (the
        operator chose the token) the owner gets that digest and nothing is returned. Returns None otherwise."""
        principals, secret = _read(self.path)
        if principals:
            if not secret:
                self._write(principals, "")
            return None
        if initial_owner_sha256:
            self._add("owner", "primary_owner", initial_owner_sha256)
            return None
        _, token = self.add("owner", "primary_owner")
        return token
