"""QueuedConsumer: the receivers' consumer in queue.mode=wal. A request is answered once its batch is appended
to the durable queue (fsynced as queue.fsync says); a drainer feeds the queue to the pipeline, which writes to
the store. Started after the pipeline and closed before it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from collector.deadletter import RefusedRequests
from collector.wal.appender import Appender
from collector.wal.config import QueueConfig
from collector.wal.drainer import Drainer
from collector.wal.log import WriteAheadLog
from collector.wal.prepare import prepare
from pdata import Batch
from pdata.consumer import Consumer, ConsumeResult
from processors.policy import ValuePolicy
from processors.privacy import PrivacyFilter

log = logging.getLogger("cc_analytics.queue")

# How long a stopping collector lets the drainer write what the store takes; the rest is drained at the next start.
DRAIN_ON_STOP_S = 10.0


@dataclass(frozen=True, slots=True)
class QueueStats:
    """The durable queue as the self-metrics show it (all 0 in queue.mode=memory)."""

    bytes: int = 0
    capacity_bytes: int = 0
    oldest_record_age_seconds: float = 0.0
    drained_records: int = 0
    replayed_records: int = 0
    corrupt_records: int = 0


class QueuedConsumer:
    def __init__(
        self,
        directory: Path,
        config: QueueConfig,
        pipeline: Consumer,
        policy: ValuePolicy,
        privacy: PrivacyFilter,
        stored: Callable[[bytes, int], bool],
        max_group_items: int,
        refused_before: Iterable[bytes] = (),
    ) -> None:
        """`refused_before`: digests of requests the store refused for good before this run (the dead-letter
        file's), whose retries are answered "duplicate" as well."""
        self._config = config
        self._wal = WriteAheadLog(directory, durable=config.fsync != "never")
        refused = RefusedRequests(refused_before)

        def settled(digest: bytes, received_ns: int) -> bool:
            """Stored within the dedup window, or refused for good by the store after it was acknowledged."""
            return digest in refused or stored(digest, received_ns)

        self._appender = Appender(self._wal, config, lambda batch: prepare(batch, policy, privacy), settled)
        self._drainer = Drainer(self._wal, pipeline, max_group_items, config.drain_interval_ms / 1000, refused=refused)

    def start(self) -> None:
        """Recover what an earlier run left (raises recovery.UnknownFormat for records it cannot read), then
        take requests and drain."""
        self._wal.open()
        self._appender.start()
        self._drainer.start()

    def consume(self, batch: Batch) -> Future[ConsumeResult]:
        return self._appender.submit(batch)

    def consume_encoded(self, payload: bytes) -> Future[ConsumeResult]:
        """A request a receiver worker process already screened, filtered and encoded (wal/prepare.py,
        wal/codec.py): appended as it is, with the same dedup and bounds as `consume`."""
        return self._appender.submit(payload)

    def close(self, drain_timeout_s: float = DRAIN_ON_STOP_S) -> None:
        """Answer what was taken and take no more, let the drainer write what the store takes within
        `drain_timeout_s`, then close the files."""
        self._appender.close()
        self._drainer.stop(drain_timeout_s)
        self._wal.close()
        log.info(
            "queue.closed",
            extra={
                "fields": {"pending_records": self._wal.pending_records(), "pending_bytes": self._wal.pending_bytes}
            },
        )

    def readiness(self) -> tuple[bool, str]:
        """Ready while the queue takes requests, whatever the store's state (an outage is what it absorbs)."""
        return self._appender.readiness()

    def stats(self) -> QueueStats:
        oldest = self._wal.oldest_received_ns()
        age_s = max(0.0, (time.time_ns() - oldest) / 1e9) if oldest is not None else 0.0
        return QueueStats(
            bytes=self._wal.pending_bytes,
            capacity_bytes=self._config.max_bytes,
            oldest_record_age_seconds=age_s,
            drained_records=self._drainer.drained_records,
            replayed_records=self._drainer.replayed_records,
            corrupt_records=self._wal.corrupt_records,
        )
