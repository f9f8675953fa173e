"""The durable queue's options (queue.*): whether requests are acknowledged once on disk, and its bounds."""

from __future__ import annotations

from dataclasses import dataclass

from pdata.options import (
    ConfigError,
    Option,
    OptionValues,
    config_from_rows,
    require_at_least,
    require_one_of,
    require_range,
)

MODES = ("auto", "wal", "memory")
DEFAULT_MAX_AGE_SECONDS = 6 * 3600
FSYNC_POLICIES = ("always", "batch", "never")

OPTIONS: tuple[Option, ...] = (
    Option("queue.mode", str, "auto", "wal: a request is acknowledged once it is appended to the durable queue in <data_dir>/wal/, which a writer drains into the store (see collector/README.md, Durable queue); memory: once the store has it (a store outage answers 503; nothing is kept on the collector's disk); auto: wal, or memory when the collector shares its store with other replicas (dedup.shared on, as on a ClickHouse server by default), so that a retry another replica takes finds the original committed"),
    Option("queue.max_bytes", int, 1024 * 1024 * 1024, "wal: bytes of records waiting to be drained before senders get 429 / RESOURCE_EXHAUSTED with a retry hint"),
    Option("queue.max_age_seconds", int, 0, "wal: senders get 429 / RESOURCE_EXHAUSTED while the oldest record waiting to be drained arrived longer ago than this (at most dedup.window_seconds, so a replay is always recognised); 0: six hours, or dedup.window_seconds if that is shorter"),
    Option("queue.min_free_bytes", int, 128 * 1024 * 1024, "wal: senders get 429 / RESOURCE_EXHAUSTED with a retry hint while the queue's disk has less free than this beside the next record, so that what drains the queue (the embedded store's parts on the same disk, the checkpoint) keeps room; 0: until the disk is full (then 503)"),
    Option("queue.fsync", str, "batch", "wal: always (fsync before each answer), batch (one fsync every queue.fsync_interval_ms for every request that arrived meanwhile, answered after it) or never (page cache only: a power failure may lose acknowledged requests; a process crash never does)"),
    Option("queue.fsync_interval_ms", int, 5, "wal with queue.fsync=batch: how long requests wait for the fsync they share"),
    Option("queue.drain_group_items", int, 20_000, "wal: points + records drained into the store at once at most (an insert per signal); each insert carries the fixed cost of the rollups' views, so larger groups take less CPU per item and more memory while written; the writer holds up to two groups (its write queue's capacity)"),
    Option("queue.drain_interval_ms", int, 500, "wal: the queue is drained into the store at most this often (at once while a backlog fills whole groups), so inserts, each with the fixed cost of the rollups' views, stay few and large; what was acknowledged shows in the API up to this much later"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class QueueConfig:
    mode: str = "auto"
    max_bytes: int = 1024 * 1024 * 1024
    max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS
    min_free_bytes: int = 128 * 1024 * 1024
    fsync: str = "batch"
    fsync_interval_ms: int = 5
    drain_group_items: int = 20_000
    drain_interval_ms: int = 500
    # Read from dedup.window_seconds: a record older than the window could be counted twice after a crash.
    dedup_window_seconds: int = 86_400
    # Whether other collectors write to the same store and check their requests against it (dedup.shared).
    shared_store: bool = False

    @property
    def durable(self) -> bool:
        """Whether requests are acknowledged once on disk. A shared store's replicas answer after the commit
        instead: a sender's retry that reaches another replica is recognised only once the original is committed,
        and a replica's undrained queue would hold it for up to queue.drain_interval_ms, an outage's minutes."""
        if self.mode == "auto":
            return not self.shared_store
        return self.mode == "wal"

    @classmethod
    def from_options(cls, values: OptionValues, shared_store: bool = False) -> QueueConfig:
        window = values["dedup.window_seconds"]
        # 0 follows a short dedup window (small installs and tests set one) instead of refusing to start.
        age = values["queue.max_age_seconds"] or min(DEFAULT_MAX_AGE_SECONDS, window)
        return config_from_rows(
            cls,
            OPTIONS,
            values,
            ("queue.",),
            dedup_window_seconds=window,
            max_age_seconds=age,
            shared_store=shared_store,
        )

    def validate(self) -> None:
        """Raises ConfigError naming the option and what is wrong."""
        require_one_of("queue.mode", self.mode, MODES)
        require_one_of("queue.fsync", self.fsync, FSYNC_POLICIES)
        require_at_least("queue.max_bytes", self.max_bytes, 64 * 1024, "64 KiB")
        require_at_least("queue.min_free_bytes", self.min_free_bytes, 0, "until the disk is full")
        require_range("queue.fsync_interval_ms", self.fsync_interval_ms, 1, 1000)
        require_range("queue.drain_interval_ms", self.drain_interval_ms, 0, 10_000)
        require_range("queue.drain_group_items", self.drain_group_items, 1, 1_000_000)
        require_at_least("queue.max_age_seconds", self.max_age_seconds, 0, "six hours, at most dedup.window_seconds")
        # Only a queue that replays needs its records inside the dedup window; in memory mode the rule would
        # forbid a short dedup.window_seconds for nothing.
        if self.durable and self.max_age_seconds > self.dedup_window_seconds:
            raise ConfigError(
                f"queue.max_age_seconds must be between 1 and dedup.window_seconds ({self.dedup_window_seconds}): "
                "a record replayed after a crash is recognised as stored only within the dedup window"
            )
