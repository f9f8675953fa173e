"""Ingest tokens: who a sender is, and what it may write. Tokens are compared by SHA-256 digest and never logged.

The tokens file is re-read as soon as it changes: each request compares the file's stat signature (one
syscall) with the one last read, so a removed token is refused from the next request on, while requests
already authenticated finish with the binding they started with. A file that cannot be read or parsed mid-run
(half written, malformed, removed) keeps the last good set and logs one line. With several receiver processes
they agree on that set, and on who logs (receiver/otlp/shared_tokens.py).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from pdata import Batch, Sender
from pdata.yamlfile import read_failure, value_kind
from receiver.otlp.shared_tokens import GoodTokens, SharedTokens, supersedes

log = logging.getLogger("cc_analytics.auth")

OrganizationMismatch = Literal["refuse", "override"]
ORGANIZATION_MISMATCH_MODES: tuple[OrganizationMismatch, ...] = ("refuse", "override")

_ENTRY_KEYS = ("token", "sha256", "name", "api_key_id", "organization_id", "allowed_email_domains")
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


class Unauthenticated(Exception):
    """No token, or one the operator did not configure."""


class TokensFileError(ValueError):
    """The tokens file cannot be used; the message names the file, the entry and what is wrong."""


@dataclass(frozen=True, slots=True)
class Binding:
    """What one ingest token's holder is, and may write.

    A token bound to an organization pins the organization of everything it sends: a point or record claiming
    another `organization.id` is refused (or, with `override_organization`, counted in the token's organization,
    which the identity processor does). With `email_domains`, a point or record whose `user.email` has another
    domain is refused.
    """

    sender: Sender
    email_domains: frozenset[str] = field(default_factory=frozenset)
    override_organization: bool = False

    def screen(self, batch: Batch) -> Batch:
        """Remove from `batch` what this token may not write, counting it as rejected with the reason."""
        refuses_organization = bool(self.sender.organization_id) and not self.override_organization
        if not refuses_organization and not self.email_domains:
            return batch
        if batch.points:
            batch.points, reasons = self._allowed(batch.points, "data points")
        elif batch.events:
            batch.events, reasons = self._allowed(batch.events, "log records")
        else:
            return batch
        for count, reason in reasons:
            batch.rejected += count
            batch.rejected_reason = f"{batch.rejected_reason}; {reason}" if batch.rejected_reason else reason
        return batch

    def _allowed(self, items: list, noun: str) -> tuple[list, list[tuple[int, str]]]:
        organization = "" if self.override_organization else self.sender.organization_id
        domains = self.email_domains
        kept = []
        foreign = outside = 0
        for item in items:
            attributes, resource = item.attributes, item.resource
            if organization and _claims_other(attributes, resource, "organization.id", organization):
                foreign += 1
            elif domains and not _emails_within(attributes, resource, domains):
                outside += 1
            else:
                kept.append(item)
        reasons = []
        if foreign:
            reasons.append(
                (foreign, f"{foreign} {noun} refused: organization.id is not the ingest token's organization")
            )
        if outside:
            reasons.append(
                (outside, f"{outside} {noun} refused: user.email is outside the ingest token's allowed email domains")
            )
        return kept, reasons


def _claims_other(attributes: dict[str, str], resource: dict[str, str], key: str, expected: str) -> bool:
    claimed = attributes.get(key)
    if claimed and claimed != expected:
        return True
    claimed = resource.get(key)
    return bool(claimed) and claimed != expected


def _emails_within(attributes: dict[str, str], resource: dict[str, str], domains: frozenset[str]) -> bool:
    for email in (attributes.get("user.email"), resource.get("user.email")):
        if email and email.rpartition("@")[2].lower() not in domains:
            return False
    return True


_OPEN = Binding(Sender())


class TokenAuth:
    """Maps `Authorization: Bearer <token>` to a Binding (the token's API key id, organization, email domains).

    `required`: a request without a known token is refused. With a tokens file it is required unless the
    operator says otherwise, also when the file lists no token at all (then every sender is refused).
    """

    def __init__(
        self,
        bindings: dict[bytes, Binding] | None = None,
        required: bool = False,
        path: Path | None = None,
        organization_mismatch: OrganizationMismatch = "refuse",
    ) -> None:
        self.required = required
        self.path = path
        self.organization_mismatch = organization_mismatch
        self._bindings = bindings or {}
        # The stat signature of the file state last looked at; None reads the file on first use.
        self._signature: tuple[int, ...] | None = None
        # The signature of the good version `bindings` were read from.
        self._good_signature: tuple[int, ...] | None = None
        self._shared: SharedTokens | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls) -> TokenAuth:
        return cls({}, required=False)

    @classmethod
    def from_file(
        cls, path: Path, required: bool | None = None, organization_mismatch: OrganizationMismatch = "refuse"
    ) -> TokenAuth:
        """Raises TokensFileError when the file is missing, unreadable or malformed."""
        signature = _signature(path)
        bindings = read_tokens(path, organization_mismatch == "override")
        auth = cls(bindings, True if required is None else required, path, organization_mismatch)
        auth._signature = auth._good_signature = signature
        return auth

    @classmethod
    def from_shared(
        cls,
        path: Path,
        shared: SharedTokens,
        required: bool | None = None,
        organization_mismatch: OrganizationMismatch = "refuse",
    ) -> TokenAuth:
        """A receiver process's tokens at its start: the file's (recorded, when newer than what the others
        read), or while the file is faulty the newest good version another process read. Raises TokensFileError
        (the file's) when the file is faulty and no version was recorded."""
        signature = _signature(path)
        try:
            auth = cls.from_file(path, required, organization_mismatch).sharing(shared)
        except TokensFileError as fault:
            good = shared.newest_good()
            if good is None:
                raise
            auth = cls(good.bindings, True if required is None else required, path, organization_mismatch)
            auth._signature, auth._good_signature, auth._shared = signature, good.signature, shared
            auth._log_fault(signature, fault)
            return auth
        read = auth.good_tokens()
        if read is not None:
            shared.record_good(read)
        return auth

    def sharing(self, shared: SharedTokens) -> TokenAuth:
        """Agree with the other receiver processes on the last good set (and on who logs)."""
        self._shared = shared
        return self

    def good_tokens(self) -> GoodTokens | None:
        """The good version in use, for the collector process to record at start-up."""
        return GoodTokens(self._good_signature, self._bindings) if self._good_signature is not None else None

    @property
    def token_count(self) -> int:
        return len(self._bindings)

    def authenticate(self, authorization: str | None) -> Binding:
        self._refresh()
        token = _bearer(authorization)
        if token:
            binding = self._bindings.get(hashlib.sha256(token.encode()).digest())
            if binding is not None:
                return binding
        if self.required:
            raise Unauthenticated("missing or unknown ingest token" if token is None else "unknown ingest token")
        return _OPEN

    def sender_for(self, authorization: str | None) -> Sender:
        return self.authenticate(authorization).sender

    def _refresh(self) -> None:
        if self.path is None:
            return
        signature = _signature(self.path)
        if signature == self._signature:
            return
        with self._lock:
            if signature == self._signature:
                return
            # Recorded before reading: a write that lands while we read changes it again, and is read next time.
            self._signature = signature
            try:
                bindings = read_tokens(self.path, self.organization_mismatch == "override")
            except TokensFileError as exc:
                good = self._shared.newest_good() if self._shared is not None else None
                if good is not None and supersedes(good.signature, self._good_signature):
                    self._bindings, self._good_signature = good.bindings, good.signature
                self._log_fault(signature, exc)
                return
            self._bindings, self._good_signature = bindings, signature
            if self._shared is not None and not self._shared.record_good(GoodTokens(signature, bindings)):
                return  # another receiver process read this version first, and said so
            log.info("auth.tokens_reloaded", extra={"fields": {"file": str(self.path), "tokens": len(bindings)}})
            if not bindings and self.required:
                log.warning("auth.no_tokens", extra={"fields": {"file": str(self.path), "effect": NO_TOKENS_EFFECT}})

    def _log_fault(self, signature: tuple[int, ...], fault: TokensFileError) -> None:
        if self._shared is not None and not self._shared.record_faulty(signature):
            return  # another receiver process found this state first, and said so
        log.error(
            "auth.tokens_reload_failed",
            extra={"fields": {"file": str(self.path), "error": str(fault), "tokens_kept": len(self._bindings)}},
        )


NO_TOKENS_EFFECT = "tokens are required and none is configured: every sender is refused"


def _signature(path: Path) -> tuple[int, ...]:
    try:
        info = os.stat(path)
    except OSError as exc:
        return (-1, exc.errno or 0)
    return info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns


def read_tokens(path: Path, override_organization: bool = False) -> dict[bytes, Binding]:
    """The tokens file's bindings by token digest; TokensFileError names the file, the entry and the fault."""
    document = _load_yaml(path)
    if not isinstance(document, dict) or "tokens" not in document:
        raise TokensFileError(f"{path}: must be a mapping with a `tokens:` list (`tokens: []` for none)")
    unknown = sorted(str(key) for key in document if key != "tokens")
    if unknown:
        raise TokensFileError(f"{path}: unknown key {unknown[0]!r} (only `tokens:` is read)")
    entries = document["tokens"]
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise TokensFileError(f"{path}: tokens must be a list, got {_kind(entries)}")
    bindings: dict[bytes, Binding] = {}
    first_index: dict[bytes, int] = {}
    for index, item in enumerate(entries):
        where = f"{path}: tokens[{index}]"
        digest, binding = _entry(where, index, item, override_organization)
        if digest in bindings:
            raise TokensFileError(f"{where}: the same token as tokens[{first_index[digest]}]")
        bindings[digest] = binding
        first_index[digest] = index
    return bindings


def _entry(where: str, index: int, item: object, override_organization: bool) -> tuple[bytes, Binding]:
    if not isinstance(item, dict):
        raise TokensFileError(f"{where}: must be a mapping (token or sha256, name, …), got {_kind(item)}")
    unknown = sorted(str(key) for key in item if key not in _ENTRY_KEYS)
    if unknown:
        raise TokensFileError(f"{where}: unknown key {unknown[0]!r} (expected {', '.join(_ENTRY_KEYS)})")
    if ("token" in item) == ("sha256" in item):
        raise TokensFileError(f"{where}: needs exactly one of token or sha256")
    if "sha256" in item:
        hexdigest = _text(where, item, "sha256")
        if not _SHA256_HEX.fullmatch(hexdigest):
            raise TokensFileError(f"{where}: sha256 must be 64 hexadecimal characters (the token's SHA-256 digest)")
        digest = bytes.fromhex(hexdigest)
    else:
        # The token itself is never part of a message.
        digest = hashlib.sha256(_text(where, item, "token").encode()).digest()
    sender = Sender(
        token_name=_text(where, item, "name", required=False) or f"token-{index}",
        api_key_id=_text(where, item, "api_key_id", required=False),
        organization_id=_text(where, item, "organization_id", required=False),
    )
    domains = _domains(where, item.get("allowed_email_domains"))
    return digest, Binding(sender, domains, override_organization)


def _text(where: str, item: dict, key: str, required: bool = True) -> str:
    value = item.get(key)
    if value is None and not required:
        return ""
    # A YAML number or date would be silently turned into other text (0x1F is 31, 012 is 10): refuse it.
    if not isinstance(value, str):
        raise TokensFileError(f"{where}: {key} must be a string (quote it), got {_kind(value)}")
    if not value.strip():
        if required:
            raise TokensFileError(f"{where}: {key} is empty")
        return ""
    return value.strip()


def _domains(where: str, value: object) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not value:
        raise TokensFileError(f"{where}: allowed_email_domains must be a non-empty list of domains, got {_kind(value)}")
    domains = set()
    for position, domain in enumerate(value):
        text = domain.strip().lstrip("@").lower() if isinstance(domain, str) else ""
        if not text or "@" in text or " " in text:
            raise TokensFileError(f"{where}: allowed_email_domains[{position}] must be a domain such as example.com")
        domains.add(text)
    return frozenset(domains)


def _load_yaml(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TokensFileError(f"{path}: cannot read the tokens file: {read_failure(exc)}") from None
    if not text.strip():
        raise TokensFileError(f"{path}: the tokens file is empty (write `tokens: []` to list no token)")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TokensFileError(f"{path}: {_yaml_problem(exc)}") from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"not valid YAML{where}: {getattr(exc, 'problem', None) or type(exc).__name__}"


def _kind(value: object) -> str:
    return "nothing" if value is None else value_kind(value)


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
