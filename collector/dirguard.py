"""Whether a directory the collector opened at start-up is still the one a restart would reopen.

Files written under a directory that was deleted (or replaced by another of the same name) since they were
opened are written successfully, and lost: the open descriptors point at unlinked files, and the engine
recreates the directories it writes parts into. Neither a write nor a ping can tell, so the directory itself is
checked: same device and inode as at start-up, and writable. Once it has vanished or been replaced the answer
stays "lost" until a restart (what was written since is not what will be reopened).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path


class DirectoryGuard:
    def __init__(self, path: Path, name: str, lost_event: str, log: logging.Logger) -> None:
        """`name` says what the directory is in a reason ("the data directory"); `lost_event` is the log line
        written once when it is found gone or replaced."""
        self.path = path
        self._name = name
        self._lost_event = lost_event
        self._log = log
        self._identity = _identity(path)
        self._lost = ""  # sticky

    def problem(self) -> str:
        """Why what is written there now would not be kept; empty when it would."""
        if self._lost:
            return self._lost
        try:
            identity = _identity(self.path)
        except OSError as exc:
            return self._lose(f"{self._name} {self.path} is gone ({exc.strerror}); restart the collector")
        if identity != self._identity:
            return self._lose(f"{self._name} {self.path} was replaced since start-up; restart the collector")
        if not os.access(self.path, os.W_OK | os.X_OK):
            return f"{self._name} {self.path} is not writable"
        return ""

    def _lose(self, reason: str) -> str:
        self._lost = reason
        self._log.error(self._lost_event, extra={"fields": {"path": str(self.path), "reason": reason}})
        return reason


def _identity(path: Path) -> tuple[int, int]:
    status = os.stat(path)
    return status.st_dev, status.st_ino
