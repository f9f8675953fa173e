"""The collector's own counters across a graceful stop: the next start shows them from where the stop left them
(from its first scrape, hold or not), a crash after that start begins again from 0 (held), `process_*` starts
over, and a carried series has no `_created` that would read as a reset."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families

from exporters.prometheus import PrometheusExporterConfig, create_exporter
from exporters.prometheus.carryover import CarryOverFile
from exporters.prometheus.exposition import RegistryView, render


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Process:
    """One collector run's registry: requests by status, a latency histogram, and a process counter."""

    def __init__(self, path: Path, clock: Clock, hold_s: float = 10.0) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("cc_analytics_otlp_requests", "r", ("status",), registry=self.registry)
        self.latency = Histogram("cc_analytics_latency_seconds", "l", buckets=(0.1, 1.0), registry=self.registry)
        self.cpu = Counter("process_cpu_seconds", "c", registry=self.registry)
        for status in ("ok", "bad_request"):
            self.requests.labels(status)
        self.file = CarryOverFile(path)
        self.view = RegistryView(self.registry, hold_s, clock)
        self.view.carry(self.file.take())

    def scrape(self, openmetrics: bool = False) -> dict[tuple[str, frozenset], float]:
        text = render(self.view, [], openmetrics).decode()
        families = openmetrics_families(text) if openmetrics else text_string_to_metric_families(text)
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in families
            for sample in family.samples
        }

    def stop(self) -> None:
        self.file.save(self.view.exposed_values())


def bad_requests(scrape: dict[tuple[str, frozenset], float]) -> float:
    return scrape[("cc_analytics_otlp_requests_total", frozenset({("status", "bad_request")}))]


def test_a_graceful_stop_hands_every_counter_to_the_next_start(tmp_path: Path) -> None:
    clock = Clock()
    first = Process(tmp_path / "carry.json", clock)
    clock.now += 11
    first.requests.labels("bad_request").inc(3)
    first.latency.observe(0.5)
    first.cpu.inc(7)
    assert bad_requests(first.scrape()) == 3
    first.requests.labels("bad_request").inc(2)  # after the last scrape: only the carry-over keeps these
    first.stop()

    second = Process(tmp_path / "carry.json", clock)
    during_hold = second.scrape()
    assert bad_requests(during_hold) == 5  # from the first scrape on, never a drop to 0 (a reset)
    assert during_hold[("cc_analytics_latency_seconds_count", frozenset())] == 1
    assert during_hold[("cc_analytics_latency_seconds_bucket", frozenset({("le", "1.0")}))] == 1
    assert during_hold[("process_cpu_seconds_total", frozenset())] == 0  # this process's own, held
    second.requests.labels("bad_request").inc()
    assert bad_requests(second.scrape()) == 5  # the new increment waits for the hold
    clock.now += 11
    assert bad_requests(second.scrape()) == 6
    assert not (tmp_path / "carry.json").exists()  # consumed: a crash now is not followed by these values

    third = Process(tmp_path / "carry.json", clock)  # after a crash of the second: nothing carried
    assert bad_requests(third.scrape()) == 0
    third.requests.labels("bad_request").inc()
    clock.now += 11
    assert bad_requests(third.scrape()) == 1


def test_a_stop_during_the_hold_keeps_the_increments_it_held(tmp_path: Path) -> None:
    clock = Clock()
    first = Process(tmp_path / "carry.json", clock)
    first.requests.labels("ok").inc(4)
    assert first.scrape()[("cc_analytics_otlp_requests_total", frozenset({("status", "ok")}))] == 0
    first.stop()
    second = Process(tmp_path / "carry.json", clock)
    assert second.scrape()[("cc_analytics_otlp_requests_total", frozenset({("status", "ok")}))] == 4


def test_a_carried_series_has_no_created_timestamp_in_openmetrics(tmp_path: Path) -> None:
    clock = Clock()
    first = Process(tmp_path / "carry.json", clock)
    first.requests.labels("bad_request").inc(2)
    first.stop()
    second = Process(tmp_path / "carry.json", clock)
    clock.now += 11
    second.view.with_created = True
    created = {key for key in second.scrape(openmetrics=True) if key[0].endswith("_created")}
    # bad_request was carried: its _created (this process's start) would read as a reset to 0 under
    # created-timestamp ingestion. The ok series started from 0 in this process and keeps its _created.
    assert ("cc_analytics_otlp_requests_created", frozenset({("status", "bad_request")})) not in created
    assert ("cc_analytics_otlp_requests_created", frozenset({("status", "ok")})) in created


def test_an_unreadable_carry_over_is_removed_and_counters_start_from_zero(tmp_path: Path) -> None:
    path = tmp_path / "carry.json"
    path.write_text("[[1, 2")
    process = Process(path, Clock())
    assert process.view.carried == {}
    assert not path.exists()


def test_the_exporter_carries_the_collectors_counters_over_its_close(tmp_path: Path) -> None:
    config = PrometheusExporterConfig(self_metrics_carryover=str(tmp_path / "carry.json"), new_series_hold_seconds=0)
    registry = CollectorRegistry()
    Counter("cc_analytics_dedup_hits", "d", registry=registry).inc(9)
    exporter = create_exporter(config, registry=registry)
    exporter.close()
    again = CollectorRegistry()
    Counter("cc_analytics_dedup_hits", "d", registry=again)
    reopened = create_exporter(config, registry=again)
    samples = {
        sample.name: sample.value
        for family in text_string_to_metric_families(reopened.render().decode())
        for sample in family.samples
    }
    assert samples["cc_analytics_dedup_hits_total"] == 9
