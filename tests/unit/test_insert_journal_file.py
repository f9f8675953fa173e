"""The insert journal's file: what is written reads back whole, with the token of its bytes; anything else is
reported as damaged and removed, never sent."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from exporters.clickhouse.insert_journal import FILE_NAME, InsertJournal, encode


@pytest.mark.parametrize("fsync", [False, True])
def test_a_journaled_insert_reads_back_with_its_token_until_it_ends(tmp_path: Path, fsync: bool) -> None:
    journal = InsertJournal(tmp_path, fsync)
    entry = journal.begin("metric_points", ["time", "value"], b"native rows")
    assert journal.interrupted() == entry
    assert (entry.table, entry.column_names, entry.body) == ("metric_points", ["time", "value"], b"native rows")
    assert not (tmp_path / (FILE_NAME + ".tmp")).exists()  # written aside, renamed into place
    journal.end()
    assert journal.interrupted() is None


def test_the_token_changes_with_the_rows_the_columns_and_the_table() -> None:
    tokens = {
        encode("metric_points", ["value"], b"1")[0].token,
        encode("metric_points", ["value"], b"2")[0].token,
        encode("metric_points", ["time"], b"1")[0].token,
        encode("events", ["value"], b"1")[0].token,
    }
    assert len(tokens) == 4
    assert encode("events", ["value"], b"1")[0].token == encode("events", ["value"], b"1")[0].token


@pytest.mark.parametrize("damage", ["truncated", "flipped", "foreign"])
def test_a_damaged_journal_is_reported_and_removed(tmp_path: Path, damage: str, caplog) -> None:
    journal = InsertJournal(tmp_path, fsync=False)
    journal.begin("events", ["body"], b"x" * 100)
    path = tmp_path / FILE_NAME
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[:-10]
    elif damage == "flipped":
        data[-1] ^= 0x01
    else:
        data = bytearray(b"something else entirely")
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.ERROR, logger="cc_analytics.store"):
        assert journal.interrupted() is None
    assert "store.insert_journal_damaged" in caplog.text
    assert not path.exists()


def test_without_a_directory_nothing_is_written(tmp_path: Path) -> None:
    journal = InsertJournal(None, fsync=True)
    entry = journal.begin("events", ["body"], b"rows")
    assert entry.token == encode("events", ["body"], b"rows")[0].token
    assert journal.interrupted() is None
    assert list(tmp_path.iterdir()) == []
