"""Replicas sharing a store recognise every retry, whatever bytes its request digest holds.

A request's digest (16 bytes of BLAKE2b, receiver/otlp/ingest.py) is stored as FixedString(16); the shared
dedup check (exporters/clickhouse/queries/stored_request_digests.sql) looks a group's digests up by value. One
digest in 256 ends in a zero byte, and one in 65 536 in two: those are the ones a lookup is most likely to get
wrong, so the test searches for requests whose digests end that way and retries each on another replica.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from collector.config import load as load_config
from pdata import Sender
from receiver.otlp.ingest import decode
from tests.integration.test_replicas import InProcessReplica
from tests.support import otlp_raw as otlp

ORG = "org-digests"


def _digest(document: dict[str, Any]) -> bytes:
    batch = decode("metrics", otlp.to_json(document), "json", Sender()).batch
    assert batch is not None
    return batch.digest


def _requests_whose_digest_ends_in(suffix: bytes, count: int) -> list[dict[str, Any]]:
    """`count` different one-edit requests (1 line each) whose digests end in `suffix`."""
    found: list[dict[str, Any]] = []
    time_ns = time.time_ns() - 60 * 1_000_000_000
    session = 0
    while len(found) < count:
        session += 1
        document = otlp.edit_request(ORG, lines=1, time_ns=time_ns, session=f"s{session}")
        if _digest(document).endswith(suffix):
            found.append(document)
    return found


def test_a_retry_on_another_replica_is_recognised_whatever_its_digest_ends_in(shared_store, tmp_path: Path) -> None:
    store, dsn = shared_store
    config = load_config(environ={"CC_ANALYTICS_STORAGE_DSN": dsn, "CC_ANALYTICS_DATA_DIR": str(tmp_path)})
    a, b = InProcessReplica(store, config), InProcessReplica(store, config)
    requests = _requests_whose_digest_ends_in(b"\x00", 3) + _requests_whose_digest_ends_in(b"\x00\x00", 1)
    requests += _requests_whose_digest_ends_in(b"\x01", 1)
    try:
        for document in requests:
            a.send(document)
            assert not a.last.duplicate
        for document in requests:
            b.send(document)  # the retry reaches another replica: it must find A's commit in the store
            assert b.last.duplicate, _digest(document).hex()
    finally:
        a.close()
        b.close()
    assert (sum(a.deltas()), b.deltas()) == (15, [])  # 5 requests × (1 line, 1 accept, 1 session start)
    since_ns = time.time_ns() - 3600 * 1_000_000_000
    digests = {_digest(document) for document in requests}
    assert set(store.stored_request_digests(digests, since_ns)) == digests
