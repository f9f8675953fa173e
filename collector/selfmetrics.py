"""The collector's own health metrics (served on /metrics next to Claude Code's counters).

- ingest: the receiver's observer counts requests by protocol, signal and status, items accepted and
  rejected by reason, duplicate requests (dedup hits), and the request latency;
- write queue: points + records waiting for the writer, and the age of the oldest waiting request
  (`QueueTracker` wraps the pipeline as the receivers' consumer);
- store: write latency and failed writes (`InstrumentedStore` wraps the store the pipeline writes to);
- processors: cumulative points of committed groups that added nothing, by reason (`watch_chain`);
- durable queue (queue.mode=wal): bytes waiting, oldest record's age, records drained, replayed and found
  damaged (`watch_durable_queue`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from importlib import metadata
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from collector.wal import QueueStats
from console.answers import KeptAnswers
from pdata import Batch, EventFact, PointFact
from pdata import vocabulary as names
from pdata.consumer import Consumer, ConsumeResult
from pdata.store import PreparedFacts
from processors.chain import ProcessorChain
from processors.temporality import DropReason
from receiver.otlp.observer import LoggingObserver

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

# The receiver's rejection messages (free text) → a small fixed set of `reason` label values.
_REASONS = (
    ("points are not supported", "unsupported_metric_type"),
    ("aggregationTemporality", "unsupported_temporality"),
    ("without a value", "missing_value"),
    ("not finite", "non_finite_value"),
    ("negative value", "negative_counter_value"),
    ("without timeUnixNano", "missing_timestamp"),
    # processors/policy: what cannot be true of Claude Code's telemetry
    ("Claude Code's counters are monotonic sums", "wrong_metric_type"),
    ("over the plausible maximum", "implausible_value"),
    ("out of range (over 2^53)", "implausible_value"),
    ("outside the accepted time window", "timestamp_out_of_window"),
    ("after year 2262", "timestamp_out_of_window"),
)


PROTOCOLS = ("grpc", "http")
SIGNALS = ("metrics", "logs", "traces")
STATUSES = (
    "ok", "partial", "duplicate", "bad_request", "too_large", "unauthenticated", "unsupported_media_type", "overloaded",
    "unavailable", "refused_by_store",
)  # fmt: skip
DEAD_LETTER_OUTCOMES = ("written", "not_written")
REASONS = (*dict.fromkeys(label for _, label in _REASONS), "other")


def reason_label(reason: str, signal: str) -> str:
    if signal == "traces":
        return "traces_not_stored"
    for fragment, label in _REASONS:
        if fragment in reason:
            return label
    return "other"


class SelfMetrics(LoggingObserver):
    """The receiver's observer: requests, items, dedup hits and latency by protocol and signal."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = _counter(names.OTLP_REQUESTS, registry)
        self.items = _counter(names.OTLP_ITEMS, registry)
        self.dedup_hits = _counter(names.DEDUP_HITS, registry)
        self.latency = _histogram(names.OTLP_REQUEST_DURATION, registry)
        self.store_write_latency = _histogram(names.STORE_WRITE_DURATION, registry)
        self.store_write_errors = _counter(names.STORE_WRITE_ERRORS, registry)
        self.store_written_items = _counter(names.STORE_WRITTEN_ITEMS, registry)
        self.dead_letter_batches = _counter(names.DEAD_LETTER_BATCHES, registry)
        self.cumulative_points_dropped = _counter(names.CUMULATIVE_POINTS_DROPPED, registry)
        self.worker_requests = _counter(names.WORKER_REQUESTS, registry)
        self._create_every_label_set()

    def _create_every_label_set(self) -> None:
        """Every series exists at 0 from the start, so the first refusal of a kind is an increase Prometheus sees."""
        for protocol in PROTOCOLS:
            for signal in SIGNALS:
                for status in STATUSES:
                    self.requests.labels(protocol, signal, status)
                self.latency.labels(protocol, signal)
                if signal == "traces":
                    self.items.labels(protocol, signal, "dropped", "traces_not_stored")
                    continue
                self.dedup_hits.labels(protocol, signal)
                self.items.labels(protocol, signal, "accepted", "")
                for reason in REASONS:
                    self.items.labels(protocol, signal, "rejected", reason)
        for kind in ("points", "events"):
            self.store_written_items.labels(kind)
        for outcome in DEAD_LETTER_OUTCOMES:
            self.dead_letter_batches.labels(outcome)
        for drop_reason in DropReason:
            self.cumulative_points_dropped.labels(drop_reason.value)

    def request_done(
        self, protocol: str, signal: str, status: str, reason: str, accepted: int, rejected: int, seconds: float
    ) -> None:
        super().request_done(protocol, signal, status, reason, accepted, rejected, seconds)
        self.requests.labels(protocol, signal, status).inc()
        if status == "duplicate":
            self.dedup_hits.labels(protocol, signal).inc()
        if accepted and status in ("ok", "partial"):
            self.items.labels(protocol, signal, "accepted", "").inc(accepted)
        if rejected:
            outcome = "dropped" if signal == "traces" else "rejected"
            self.items.labels(protocol, signal, outcome, reason_label(reason, signal)).inc(rejected)
        if seconds:
            self.latency.labels(protocol, signal).observe(seconds)

    def watch_workers(self, count: int) -> None:
        """Each receiver process's series exists at 0 from the start."""
        for index in range(count):
            self.worker_requests.labels(str(index))

    def worker_request_done(self, index: int) -> None:
        self.worker_requests.labels(str(index)).inc()

    def dead_letter_done(self, outcome: str) -> None:
        """A refused batch was set aside in the dead-letter file (written) or not (not_written)."""
        self.dead_letter_batches.labels(outcome).inc()

    def watch_queue(self, tracker: QueueTracker, capacity: int) -> None:
        """Expose the write queue's depth, capacity and oldest waiting request's age at each scrape."""
        self.registry.register(_QueueCollector(tracker, capacity))

    def watch_inflight(self, inflight_bytes: Callable[[], int], limit_bytes: int) -> None:
        """Expose the in-flight budget's use (over every receiver process) and its limit at each scrape."""
        self.registry.register(_InflightCollector(inflight_bytes, limit_bytes))

    def watch_durable_queue(self, stats: Callable[[], QueueStats]) -> None:
        """Expose the durable queue's bytes, capacity, oldest record's age and record counts at each scrape."""
        self.registry.register(_DurableQueueCollector(stats))

    def watch_answers(self, answers: KeptAnswers) -> None:
        """Count the analytics API's answers by source (kept until a commit changes them, or computed) at each scrape."""
        self.registry.register(_AnswersCollector(answers))

    def watch_chain(self, chain: ProcessorChain) -> None:
        """Count the cumulative points each committed group dropped, by reason."""
        chain.dropped_points_listeners.append(self.count_dropped_points)

    def count_dropped_points(self, dropped: Mapping[DropReason, int]) -> None:
        for drop_reason, count in dropped.items():
            self.cumulative_points_dropped.labels(drop_reason.value).inc(count)


def _counter(family: names.SelfMetric, registry: CollectorRegistry) -> Counter:
    return Counter(family.name, family.help, family.labels, registry=registry)


def _histogram(family: names.SelfMetric, registry: CollectorRegistry) -> Histogram:
    return Histogram(family.name, family.help, family.labels, registry=registry, buckets=_LATENCY_BUCKETS)


def _gauge(family: names.SelfMetric, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(family.name, family.help, value=value)


def register_process_metrics(registry: CollectorRegistry) -> None:
    """`process_*` (CPU, memory, file descriptors), `python_*` (version, garbage collection) and
    `cc_analytics_build_info{version}`: present from the first scrape, so dashboards and alerts can tell a
    collector that is up but idle from one that is gone."""
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    try:
        version = metadata.version("claude-code-analytics")
    except metadata.PackageNotFoundError:
        version = "unknown"
    build = Info(names.BUILD.name, names.BUILD.help, registry=registry)
    build.info({"version": version})


class QueueTracker:
    """The receivers' consumer: passes batches to the pipeline, remembering when each one entered the queue."""

    def __init__(
        self, consumer: Consumer, queued_items: Callable[[], int], clock: Callable[[], float] = time.monotonic
    ):
        self._consumer = consumer
        self._queued_items = queued_items
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[int, float] = {}
        self._next = 0

    def consume(self, batch: Batch) -> Future[ConsumeResult]:
        future = self._consumer.consume(batch)  # raises Overloaded / Unavailable before anything is queued
        with self._lock:
            ticket = self._next
            self._next += 1
            self._pending[ticket] = self._clock()
        future.add_done_callback(lambda _: self._done(ticket))
        return future

    def _done(self, ticket: int) -> None:
        with self._lock:
            self._pending.pop(ticket, None)

    @property
    def queued_items(self) -> int:
        return self._queued_items()

    def oldest_age_seconds(self) -> float:
        with self._lock:
            if not self._pending:
                return 0.0
            return max(0.0, self._clock() - min(self._pending.values()))


class _QueueCollector:
    def __init__(self, tracker: QueueTracker, capacity: int) -> None:
        self._tracker = tracker
        self._capacity = capacity

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        yield _gauge(names.QUEUE_ITEMS, self._tracker.queued_items)
        yield _gauge(names.QUEUE_CAPACITY, self._capacity)
        yield _gauge(names.QUEUE_OLDEST_AGE, self._tracker.oldest_age_seconds())


class _InflightCollector:
    def __init__(self, inflight_bytes: Callable[[], int], limit_bytes: int) -> None:
        self._inflight_bytes = inflight_bytes
        self._limit_bytes = limit_bytes

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        yield _gauge(names.INFLIGHT_BYTES, self._inflight_bytes())
        yield _gauge(names.INFLIGHT_LIMIT, self._limit_bytes)


class _DurableQueueCollector:
    def __init__(self, stats: Callable[[], QueueStats]) -> None:
        self._stats = stats

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        stats = self._stats()
        yield _gauge(names.DURABLE_QUEUE_BYTES, stats.bytes)
        yield _gauge(names.DURABLE_QUEUE_CAPACITY, stats.capacity_bytes)
        yield _gauge(names.DURABLE_QUEUE_OLDEST_AGE, stats.oldest_record_age_seconds)
        for family, value in (
            (names.DURABLE_QUEUE_DRAINED, stats.drained_records),
            (names.DURABLE_QUEUE_REPLAYED, stats.replayed_records),
            (names.DURABLE_QUEUE_CORRUPT, stats.corrupt_records),
        ):
            yield CounterMetricFamily(family.name, family.help, value=value)


class _AnswersCollector:
    def __init__(self, answers: KeptAnswers) -> None:
        self._answers = answers

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        family = names.API_ANSWERS
        answers = CounterMetricFamily(family.name, family.help, labels=family.labels)
        answers.add_metric(["kept"], self._answers.kept)
        answers.add_metric(["computed"], self._answers.computed)
        yield answers


class InstrumentedStore:
    """The store as the pipeline sees it: each write timed, failures counted; everything else passed through."""

    def __init__(self, store: Any, metrics: SelfMetrics) -> None:
        self._store = store
        self._metrics = metrics

    def write(self, points: Sequence[PointFact], events: Sequence[EventFact]) -> None:
        self.write_prepared(self.prepare(points, events))

    def prepare(self, points: Sequence[PointFact], events: Sequence[EventFact]) -> PreparedFacts:
        try:
            return self._store.prepare(points, events)
        except Exception:
            self._metrics.store_write_errors.inc()
            raise

    def write_prepared(self, prepared: PreparedFacts) -> None:
        started = time.perf_counter()
        try:
            self._store.write_prepared(prepared)
        except Exception:
            self._metrics.store_write_errors.inc()
            raise
        finally:
            self._metrics.store_write_latency.observe(time.perf_counter() - started)
        if prepared.points:
            self._metrics.store_written_items.labels("points").inc(len(prepared.points))
        if prepared.events:
            self._metrics.store_written_items.labels("events").inc(len(prepared.events))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)
