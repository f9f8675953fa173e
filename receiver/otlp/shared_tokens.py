"""The last good ingest tokens every receiver process of one collector agrees on (`--workers N`, N > 1).

Each receiver process reads the tokens file itself as soon as it changes (receiver/otlp/auth.py). A process that
served no request while a version of the file was there never read that version; had the file then turned
faulty (half written, malformed), that process alone would keep an older set than the others, and a token
removed in between would still work on its connections. So whichever process reads a good version records it
here, and a process that finds the file faulty takes the newest version recorded, as a single process keeps the
last one it read. Faulty states are recorded too, so that each is logged once, by the first process to read it;
and a receiver process started again while the file is faulty starts from the newest good version.

One JSON file in the data directory holding token digests only (never a token, as a tokens file's `sha256`
entries), replaced atomically under an advisory lock (`flock`) on a file beside it. The collector process writes
it afresh at start-up from the file it has just read, so nothing of an earlier run is taken.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pdata import Sender
from pdata.files import replace_file

# The signatures of the last faulty states, each logged once.
_FAULTY_KEPT = 32

Signature = tuple[int, ...]


@dataclass(frozen=True, slots=True)
class GoodTokens:
    signature: Signature  # the tokens file's stat signature when it was read (auth.py `_signature`)
    bindings: dict[bytes, Any]  # digest → Binding


def supersedes(signature: Signature, than: Signature | None) -> bool:
    """Whether a file state replaces another: a different one, not earlier by change time, then modification
    time. Two writes within one tick of the file system's clock have the same times: the one read later wins."""
    if than is None:
        return True
    return signature != than and _order(signature) >= _order(than)


def _order(signature: Signature) -> tuple[int, ...]:
    # (inode, size, mtime_ns, ctime_ns); a missing file's (-1, errno) sorts first.
    return (signature[3], signature[2], signature[0]) if len(signature) == 4 else (-1, -1, -1)


class SharedTokens:
    def __init__(self, path: Path, binding: Callable[[Sender, frozenset[str], bool], Any]) -> None:
        """`binding` builds a Binding from its parts (auth.py owns the type)."""
        self.path = path
        self._lock_path = path.with_name(path.name + ".lock")
        self._binding = binding

    def start(self, good: GoodTokens) -> None:
        """The collector process, at start-up: the version it has read is the only one recorded."""
        with self._locked():
            self._write({"good": self._encode(good), "faulty": []})

    def record_good(self, good: GoodTokens) -> bool:
        """Record a version read; True when it supersedes the one recorded (this process read it first)."""
        with self._locked():
            document = self._read()
            recorded = document.get("good")
            if recorded is not None and not supersedes(good.signature, tuple(recorded["signature"])):
                return False
            document["good"] = self._encode(good)
            self._write(document)
            return True

    def record_faulty(self, signature: Signature) -> bool:
        """Record a faulty state; True when no process had recorded it (this one logs it)."""
        with self._locked():
            document = self._read()
            faulty = [tuple(seen) for seen in document.get("faulty", [])]
            if signature in faulty:
                return False
            document["faulty"] = [list(seen) for seen in [*faulty, signature][-_FAULTY_KEPT:]]
            self._write(document)
            return True

    def newest_good(self) -> GoodTokens | None:
        with self._locked():
            recorded = self._read().get("good")
        return self._decode(recorded) if recorded is not None else None

    @contextmanager
    def _locked(self) -> Iterator[None]:
        descriptor = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)  # releases the lock

    def _read(self) -> dict[str, Any]:
        try:
            document = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return document if isinstance(document, dict) else {}

    def _write(self, document: dict[str, Any]) -> None:
        # No fsync: the file matters only while this collector runs, and its start writes it afresh.
        replace_file(self.path, [json.dumps(document, separators=(",", ":")).encode()], fsync=False)

    @staticmethod
    def _encode(good: GoodTokens) -> dict[str, Any]:
        return {
            "signature": list(good.signature),
            "bindings": [
                [
                    digest.hex(),
                    binding.sender.token_name,
                    binding.sender.api_key_id,
                    binding.sender.organization_id,
                    sorted(binding.email_domains),
                    binding.override_organization,
                ]
                for digest, binding in good.bindings.items()
            ],
        }

    def _decode(self, recorded: dict[str, Any]) -> GoodTokens:
        bindings = {
            bytes.fromhex(digest): self._binding(Sender(name, api_key_id, organization), frozenset(domains), override)
            for digest, name, api_key_id, organization, domains, override in recorded["bindings"]
        }
        return GoodTokens(tuple(recorded["signature"]), bindings)
