"""The insert in progress, kept on disk until ClickHouse has committed it whole, and completed at the next start.

One INSERT writes several parts: the raw table's, and one per materialized view that fills a rollup from it.
ClickHouse commits each of them on its own, so a process killed in the middle of an insert can leave the raw
rows stored and some rollup rows not. The request is then recognised as stored by its raw rows' digest and
not written again, and every figure read from the rollups would stay short.

So each insert is journaled first: its table, columns and rows (the Native-format body the insert sends) go to
`<data_dir>/store-insert.journal` (written aside and renamed into place, so the file is always whole), and the
insert carries a deduplication token derived from those bytes (`insert_deduplication_token`, with `deduplicate_blocks_in_dependent_materialized_views`,
and the tables' deduplication window, tablesettings.py). The file is removed once the insert returns well, or
once the writer finds none of a failed insert stored (`ClickHouseStore.forget_failed_insert`). A journal found at
start-up is an insert that may be half done: it is sent again, the same rows with the same
token, before anything else reads or writes. ClickHouse skips every part already committed (the raw table's,
a view's) and writes those that are missing, so the insert ends up whole, once. An insert that failed while
the collector runs and may be kept in part (the store went away during it, a view failed, the answer was lost)
is sent again by the pipeline, the same body with the same token, before anything else (collector/pipeline.py),
so it is completed the same way without a restart.
"""

from __future__ import annotations

import hashlib
import json
import logging
import struct
from dataclasses import dataclass
from pathlib import Path

from pdata.files import replace_file

log = logging.getLogger("cc_analytics.store")

FILE_NAME = "store-insert.journal"
_MAGIC = b"CCA-INSERT-2\n"
_HEADER = struct.Struct(">I32s")  # header length, sha256 of header and body


@dataclass(frozen=True, slots=True)
class JournaledInsert:
    """One INSERT as it is sent: `body` holds the rows of `table` in ClickHouse's Native format, and `token` makes
    it idempotent."""

    table: str
    column_names: list[str]
    body: bytes
    token: str


def _digest(header: bytes, body: bytes) -> bytes:
    hasher = hashlib.sha256(header)
    hasher.update(body)
    return hasher.digest()


def encode(table: str, column_names: list[str], body: bytes) -> tuple[JournaledInsert, bytes]:
    """The insert and its journal's header; the token is the sha256 of the table, columns and rows, so equal rows
    get an equal token and different rows never share one."""
    header = json.dumps({"table": table, "columns": column_names}, separators=(",", ":")).encode()
    digest = _digest(header, body)
    entry = JournaledInsert(table, column_names, body, digest.hex())
    return entry, _MAGIC + _HEADER.pack(len(header), digest) + header


def decode(data: bytes) -> JournaledInsert:
    """Raises ValueError when the bytes are not a whole journal this collector wrote."""
    start = len(_MAGIC) + _HEADER.size
    if not data.startswith(_MAGIC) or len(data) < start:
        raise ValueError("not an insert journal (bad header)")
    length, digest = _HEADER.unpack_from(data, len(_MAGIC))
    header, body = data[start : start + length], data[start + length :]
    if len(header) != length or _digest(header, body) != digest:
        raise ValueError("insert journal damaged (length or checksum does not match)")
    fields = json.loads(header)
    return JournaledInsert(str(fields["table"]), [str(name) for name in fields["columns"]], body, digest.hex())


class InsertJournal:
    """The one insert in progress of this store's writer. `directory` None: not journaled (a process that only
    reads, or a test of its own store)."""

    def __init__(self, directory: Path | None, fsync: bool) -> None:
        self._path = directory / FILE_NAME if directory is not None else None
        # With storage.fsync the journal survives a power loss, as the parts it guards do; without, a process
        # crash (the page cache survives it) is what it is for.
        self._fsync = fsync

    def begin(self, table: str, column_names: list[str], body: bytes) -> JournaledInsert:
        """Journal the insert about to be sent, and return it with its token."""
        entry, header = encode(table, column_names, body)
        if self._path is None:
            return entry
        replace_file(self._path, (header, body), self._fsync)
        return entry

    def end(self) -> None:
        """The insert returned: committed whole, or refused and kept nowhere."""
        if self._path is not None:
            self._path.unlink(missing_ok=True)

    def interrupted(self) -> JournaledInsert | None:
        """The insert a crash interrupted, if any. A damaged journal is logged and removed: its insert was never
        sent (the file is renamed into place whole before the insert starts), or the damage came later."""
        if self._path is None or not self._path.exists():
            return None
        try:
            return decode(self._path.read_bytes())
        except (ValueError, KeyError, TypeError) as exc:
            log.error(
                "store.insert_journal_damaged",
                extra={
                    "fields": {
                        "path": str(self._path),
                        "error": str(exc),
                        "effect": "the interrupted insert, if one was, cannot be completed: its rollups may be short",
                    }
                },
            )
            self.end()
            return None
