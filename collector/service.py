"""The collector's own options: the address and connection limits every listener shares, the write queue, the
data directory and the log level (what an OpenTelemetry Collector keeps in its `service` section)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from collector.cores import available_cores
from pdata.options import ConfigError, Option, OptionValues, config_from_rows, require_at_least, require_one_of

LOG_LEVELS = ("debug", "info", "warning", "error")

OPTIONS: tuple[Option, ...] = (
    Option("bind", str, "127.0.0.1", "address every listener binds to"),
    Option("http.allowed_hosts", str, "", "comma-separated host names the HTTP listeners (OTLP/HTTP, console, /metrics) answer to, any port (`*`: any); empty means only localhost, 127.0.0.1 and [::1] when bound to loopback, any name otherwise; other names get 403 (DNS rebinding)"),
    Option("data_dir", str, "./data", "where the embedded store keeps its files"),
    Option("limits.max_queued_items", int, 20_000, "points + records waiting to be written before senders get 429 / RESOURCE_EXHAUSTED (with queue.mode=wal the durable queue bounds what waits, and the writer holds two of queue.drain_group_items instead)"),
    Option("limits.max_connections", int, 1000, "open connections per listener (OTLP/gRPC, OTLP/HTTP, API, /metrics); past it an HTTP listener closes its oldest connection still waiting for a request, else the one whose request body has been arriving longest (503 with a retry hint), else the new one; gRPC closes the new one; lowered at start-up so all listeners fit the open-file limit"),
    Option("limits.header_timeout_seconds", int, 10, "a connection must send a whole request's headers (gRPC: its HTTP/2 handshake) within this many seconds of connecting, or of the first byte of its next request once answered, else it is closed"),
    Option("limits.keep_alive_seconds", int, 120, "an HTTP connection idle this long after an answer is closed; keep it above the senders' export interval (Claude Code: 60 s for metrics) and their own idle timeout (an OpenTelemetry Collector's: 90 s), so that they close idle connections first: a request sent just as the server closes its connection is lost to a reset"),
    Option("workers", str, "auto", "OTLP receiver processes sharing the OTLP ports (SO_REUSEPORT), each decoding and handing requests to the durable queue of the collector process, the one writer (which then takes no OTLP connection itself); more than 1 needs the durable queue (queue.mode); auto: the cores the collector may use (its CPU affinity and its cgroup's CPU limit, as a container's) with the durable queue, else 1 (see collector/README.md, Receiver workers)"),
    Option("memory.trim_interval_ms", int, 50, "every collector process (the writer and each receiver process) hands the heap memory it freed back to the system this often (glibc's malloc_trim), so that what a burst took does not stay resident and the next burst's peak is not raised by the allocator's fragmentation; 0: never (see collector/README.md, Freed memory)"),
    Option("log.level", str, "info", "debug, info, warning or error"),
    Option("dead_letter.max_bytes", int, 64 * 1024 * 1024, "bound of <data_dir>/dead-letter.jsonl, where batches the store refused while it answered (answered 400 / INVALID_ARGUMENT) are set aside, one JSON line each, privacy-filtered as stored; past it lines are not written and cc_analytics_dead_letter_batches_total{outcome=\"not_written\"} counts them (0: no file)"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    bind: str = "127.0.0.1"
    allowed_hosts: str = ""
    data_dir: Path = Path("./data")
    # Points + records waiting for the writer (collector/pipeline.py) before senders are told to back off.
    max_queued_items: int = 20_000
    # Every listener's connection limits (collector/connections.py; the gRPC receiver's own too).
    max_connections: int = 1000
    header_timeout_seconds: int = 10
    keep_alive_seconds: int = 120
    # "auto" or a count of receiver processes (collector/workers); resolved with the queue mode by the collector.
    workers: str = "auto"
    log_level: str = "info"
    # How often each process hands its freed heap memory back to the system (collector/freedmemory.py); 0: never.
    trim_interval_ms: int = 50
    # Bound of the file batches the store refused are set aside in (collector/deadletter.py).
    dead_letter_max_bytes: int = 64 * 1024 * 1024

    @classmethod
    def from_options(cls, values: OptionValues) -> ServiceConfig:
        return config_from_rows(
            cls, OPTIONS, values, ("http.", "limits.", "memory."), data_dir=Path(values["data_dir"])
        )

    def validate(self) -> None:
        """Raises ConfigError naming the option and what is wrong."""
        require_at_least("limits.max_queued_items", self.max_queued_items, 1)
        require_at_least("limits.max_connections", self.max_connections, 16)
        require_at_least("limits.header_timeout_seconds", self.header_timeout_seconds, 1)
        require_at_least("limits.keep_alive_seconds", self.keep_alive_seconds, 1)
        require_at_least("dead_letter.max_bytes", self.dead_letter_max_bytes, 0, "no dead-letter file")
        require_at_least("memory.trim_interval_ms", self.trim_interval_ms, 0, "never")
        require_one_of("log.level", self.log_level, LOG_LEVELS)
        if self.workers != "auto" and not (self.workers.isdigit() and 1 <= int(self.workers) <= 256):
            raise ConfigError(f"workers must be auto or a whole number from 1 to 256, got {self.workers!r}")

    def worker_count(self, durable_queue: bool) -> int:
        """How many receiver processes: only the durable queue can take requests from other processes."""
        if self.workers == "auto":
            return available_cores() if durable_queue else 1
        return int(self.workers)
