"""The collector's self-metrics and the /metrics endpoint."""

from __future__ import annotations

import asyncio
import gzip
from concurrent.futures import Future

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collector.selfmetrics import InstrumentedStore, QueueTracker, SelfMetrics, reason_label
from exporters.clickhouse import StoreUnavailable
from exporters.prometheus import PrometheusExporterConfig, create_exporter
from pdata import Batch, Sender
from pdata.consumer import ConsumeResult
from pdata.store import PreparedFacts


def scrape(registry: CollectorRegistry) -> dict[tuple[str, frozenset], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
    }


def test_requests_items_reasons_and_dedup_hits() -> None:
    registry = CollectorRegistry()
    metrics = SelfMetrics(registry)
    metrics.request_done("http", "metrics", "ok", "", 10, 0, 0.01)
    metrics.request_done("grpc", "metrics", "partial", "metric 'x': value is not finite; metric 'y': ...", 8, 2, 0.02)
    metrics.request_done("http", "metrics", "duplicate", "", 10, 0, 0.001)
    metrics.request_done("http", "logs", "unauthenticated", "no token", 0, 0, 0.001)
    got = scrape(registry)
    items = "cc_analytics_otlp_items_total"
    assert (
        got[(items, frozenset({("protocol", "http"), ("signal", "metrics"), ("outcome", "accepted"), ("reason", "")}))]
        == 10
    )
    assert (
        got[
            (
                items,
                frozenset(
                    {
                        ("protocol", "grpc"),
                        ("signal", "metrics"),
                        ("outcome", "rejected"),
                        ("reason", "non_finite_value"),
                    }
                ),
            )
        ]
        == 2
    )
    assert got[("cc_analytics_dedup_hits_total", frozenset({("protocol", "http"), ("signal", "metrics")}))] == 1
    requests = "cc_analytics_otlp_requests_total"
    assert got[(requests, frozenset({("protocol", "http"), ("signal", "logs"), ("status", "unauthenticated")}))] == 1
    assert (
        got[
            (
                "cc_analytics_otlp_request_duration_seconds_count",
                frozenset({("protocol", "grpc"), ("signal", "metrics")}),
            )
        ]
        == 1
    )


@pytest.mark.parametrize(
    ("reason", "label"),
    [
        ("metric 'h': histogram points are not supported", "unsupported_metric_type"),
        ("metric 'x': aggregationTemporality must be DELTA or CUMULATIVE", "unsupported_temporality"),
        ("metric 'x': data point without a value", "missing_value"),
        ("metric 'x': negative value on a monotonic sum", "negative_counter_value"),
        ("metric 'x': data point without timeUnixNano", "missing_timestamp"),
        ("something new", "other"),
    ],
)
def test_rejection_reasons_are_a_small_fixed_set(reason: str, label: str) -> None:
    assert reason_label(reason, "metrics") == label


class SlowConsumer:
    def __init__(self) -> None:
        self.futures: list[Future] = []

    def consume(self, batch: Batch) -> Future[ConsumeResult]:
        future: Future[ConsumeResult] = Future()
        self.futures.append(future)
        return future


def test_queue_depth_and_age_of_the_oldest_waiting_request() -> None:
    registry = CollectorRegistry()
    metrics = SelfMetrics(registry)
    now = [100.0]
    inner = SlowConsumer()
    tracker = QueueTracker(inner, lambda: 7, clock=lambda: now[0])
    metrics.watch_queue(tracker, 200_000)
    batch = Batch("metrics", b"\0" * 16, Sender(), 0)
    tracker.consume(batch)
    now[0] = 103.0
    tracker.consume(batch)
    now[0] = 105.0
    got = scrape(registry)
    assert got[("cc_analytics_queue_items", frozenset())] == 7
    assert got[("cc_analytics_queue_capacity_items", frozenset())] == 200_000
    assert got[("cc_analytics_queue_oldest_age_seconds", frozenset())] == 5.0
    inner.futures[0].set_result(ConsumeResult())
    assert tracker.oldest_age_seconds() == 2.0
    inner.futures[1].set_result(ConsumeResult())
    assert tracker.oldest_age_seconds() == 0.0


class FlakyStore:
    def __init__(self) -> None:
        self.fail = False
        self.embedded = True

    def prepare(self, points, events) -> PreparedFacts:
        return PreparedFacts(points, events)

    def write_prepared(self, prepared: PreparedFacts) -> None:
        if self.fail:
            raise StoreUnavailable("down")


def test_store_write_latency_and_errors() -> None:
    registry = CollectorRegistry()
    metrics = SelfMetrics(registry)
    store = FlakyStore()
    instrumented = InstrumentedStore(store, metrics)
    instrumented.write([object()], [])
    store.fail = True
    with pytest.raises(StoreUnavailable):
        instrumented.write([], [object()])
    got = scrape(registry)
    assert got[("cc_analytics_store_write_duration_seconds_count", frozenset())] == 2
    assert got[("cc_analytics_store_write_errors_total", frozenset())] == 1
    assert got[("cc_analytics_store_written_items_total", frozenset({("kind", "points")}))] == 1
    assert instrumented.embedded is True  # everything else passes through


def test_metrics_endpoint_serves_registry_and_counters_plain_and_gzip() -> None:
    registry = CollectorRegistry()
    SelfMetrics(registry).request_done("http", "metrics", "ok", "", 1, 0, 0.01)
    exporter = create_exporter(PrometheusExporterConfig(), None, registry)

    async def get(path: str, headers: dict[str, str]) -> httpx.Response:
        transport = httpx.ASGITransport(app=exporter.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path, headers=headers)

    plain = asyncio.run(get("/metrics", {"accept-encoding": "identity"}))
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "cc_analytics_otlp_requests_total" in plain.text
    assert "# TYPE claude_code_cost_usage_USD_total counter" in plain.text
    zipped = asyncio.run(get("/metrics", {"accept-encoding": "gzip"}))
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == plain.content or gzip.decompress(zipped.content) == plain.content
    assert asyncio.run(get("/elsewhere", {})).status_code == 404


def test_every_self_metric_label_set_exists_at_zero_from_the_start() -> None:
    """A first refusal of any kind is an increase from a scraped 0, so increase() and alerts count it."""
    from collector.selfmetrics import PROTOCOLS, REASONS, SIGNALS, STATUSES

    registry = CollectorRegistry()
    SelfMetrics(registry)
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
    }
    requests = {
        labels: value for (name, labels), value in samples.items() if name == "cc_analytics_otlp_requests_total"
    }
    assert len(requests) == len(PROTOCOLS) * len(SIGNALS) * len(STATUSES) == 60
    assert set(requests.values()) == {0.0}
    rejected = {
        dict(labels)["reason"]
        for (name, labels), _ in samples.items()
        if name == "cc_analytics_otlp_items_total" and dict(labels)["outcome"] == "rejected"
    }
    assert rejected == set(REASONS)
    assert samples[("cc_analytics_store_written_items_total", frozenset({("kind", "events")}))] == 0.0
