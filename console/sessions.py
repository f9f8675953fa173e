"""Signed-out sessions: each session cookie carries a random id, and signing out records that id until the
cookie would have expired anyway, so a copied cookie stops working at once, also after a restart and on
every instance that shares the file.

The record is a JSON-lines file next to the access file (`access.yaml` → `access.signed-out.jsonl`, 0600),
written only by the collector: the operator's access file stays as `cc-analytics access` wrote it, and a
sign-out never races a CLI edit of the principals. Appends hold an exclusive lock on the file, so
instances sharing it never interleave lines; readers reload when its size or mtime changes.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

log = logging.getLogger("cc_analytics.console")

# Past this many lines, an append also drops the expired ones (a line is ~60 bytes).
_COMPACT_AFTER_LINES = 10_000


def signed_out_file(access_file: Path) -> Path:
    return access_file.with_name(f"{access_file.stem}.signed-out.jsonl")


class SignedOutSessions:
    """Thread-safe set of signed-out session ids, persisted to `path`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._expiry: dict[str, int] = {}
        self._lines = 0
        self._signature: tuple[int, int, int] | None = None
        # Held in memory as well, so a sign-out still holds in this process when the file cannot be written.
        self._unsaved: dict[str, int] = {}
        self._refresh()

    def __contains__(self, session_id: object) -> bool:
        with self._lock:
            self._refresh()
            return session_id in self._expiry or session_id in self._unsaved

    def sign_out(self, session_id: str, expires: int) -> bool:
        """Record `session_id` as signed out until `expires` (epoch seconds). False when it could only be
        kept in memory (the file is not writable): the caller says so in the log."""
        line = json.dumps({"s": session_id, "e": expires}) + "\n"
        with self._lock:
            try:
                self._append(line)
            except OSError as exc:
                self._unsaved[session_id] = expires
                log.error("console.sign_out_not_saved", extra={"fields": {"file": str(self.path), "error": str(exc)}})
                return False
            self._expiry[session_id] = expires
            if self._lines > _COMPACT_AFTER_LINES:
                self._compact()
            return True

    def compact(self) -> None:
        """Drop the expired ids (at start-up)."""
        with self._lock:
            try:
                self._compact()
            except OSError as exc:
                log.error("console.sign_out_not_saved", extra={"fields": {"file": str(self.path), "error": str(exc)}})

    # -- file --------------------------------------------------------------------------------------
    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        while True:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(descriptor, "a") as stream:
                fcntl.flock(stream, fcntl.LOCK_EX)
                # Another instance may have compacted (renamed a new file into place) while this one waited
                # for the lock: then this descriptor is the old file and the line would be lost with it.
                if os.fstat(stream.fileno()).st_ino != _inode(self.path):
                    continue
                stream.write(line)
                stream.flush()
                break
        self._refresh()

    def _compact(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("r+") as stream:
            fcntl.flock(stream, fcntl.LOCK_EX)  # no append lands between the read and the rename
            live = {sid: expiry for sid, expiry in _parse(stream.read()).items() if expiry > time.time()}
            handle, temporary = tempfile.mkstemp(prefix=".signed-out-", dir=self.path.parent)
            try:
                with os.fdopen(handle, "w") as replacement:
                    replacement.writelines(json.dumps({"s": sid, "e": expiry}) + "\n" for sid, expiry in live.items())
                os.chmod(temporary, 0o600)
                os.replace(temporary, self.path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        self._signature = None
        self._refresh()

    def _refresh(self) -> None:
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            self._expiry, self._lines, self._signature = {}, 0, None
            return
        signature = (info.st_ino, info.st_size, info.st_mtime_ns)
        if signature == self._signature:
            return
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            # Keep what was known: an unreadable file must not bring signed-out sessions back.
            log.error("console.sign_out_unreadable", extra={"fields": {"file": str(self.path), "error": str(exc)}})
            return
        self._expiry = _parse(text)
        self._lines = text.count("\n")
        self._signature = signature


def _inode(path: Path) -> int:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return -1


def _parse(text: str) -> dict[str, int]:
    expiry: dict[str, int] = {}
    for line in text.splitlines():
        try:
            entry = json.loads(line)
            session_id, expires = entry["s"], entry["e"]
        except (ValueError, KeyError, TypeError):
            continue  # a line torn by a crash mid-append: the others still count
        if isinstance(session_id, str) and isinstance(expires, int) and not isinstance(expires, bool):
            expiry[session_id] = expires
    return expiry
