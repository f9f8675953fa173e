"""What a scraper sees of a series' history: held at 0 when new, restored at 0 after a restart, `_created` in
OpenMetrics only, the self-metrics held at 0 after start-up, and the scrape token."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families

from exporters.prometheus import ClaudeCodeCounters, PrometheusExporterConfig, create_exporter
from exporters.prometheus.counters import status_class
from exporters.prometheus.exposition import RegistryView, render
from exporters.prometheus.journal import SeriesJournal
from tests.unit.test_prometheus_counters import COST, cost

REJECT = frozenset({("organization_id", "org-acme"), ("team", "core"), ("model", "m"), ("query_source", "main")})


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def scraped(counters: ClaudeCodeCounters, name: str = COST) -> dict[frozenset, float]:
    return {
        frozenset(sample.labels.items()): sample.value
        for family in text_string_to_metric_families(counters.render_text())
        for sample in family.samples
        if sample.name == name
    }


def test_a_new_series_is_exposed_at_zero_for_the_hold_then_with_its_value() -> None:
    clock = Clock()
    counters = ClaudeCodeCounters(PrometheusExporterConfig(new_series_hold_seconds=10), clock=clock)
    counters.on_commit([cost(1.0, "m")])
    assert scraped(counters) == {REJECT: 0.0}
    clock.now += 5
    counters.on_commit([cost(2.0, "m")])  # increments during the hold are kept, not shown yet
    assert scraped(counters) == {REJECT: 0.0}
    clock.now += 5
    assert scraped(counters) == {REJECT: 3.0}
    assert counters.values(COST) == {REJECT: 3.0}


def test_a_series_back_after_expiry_starts_from_zero_and_is_held_again() -> None:
    clock = Clock()
    config = PrometheusExporterConfig(new_series_hold_seconds=2, series_ttl_seconds=20)
    counters = ClaudeCodeCounters(config, clock=clock)
    counters.on_commit([cost(1.0, "m")])
    clock.now += 2
    assert scraped(counters) == {REJECT: 1.0}
    clock.now += 46  # idle past the TTL: a scrape sweeps it away
    assert scraped(counters) == {}
    counters.on_commit([cost(1.0, "m")])
    assert scraped(counters) == {REJECT: 0.0}  # Prometheus sees 1 → (gone) → 0 → 1: two increments
    clock.now += 2
    assert scraped(counters) == {REJECT: 1.0}


def test_the_dropped_counter_is_held_after_start_up() -> None:
    clock = Clock()
    counters = ClaudeCodeCounters(
        PrometheusExporterConfig(max_series_per_metric=2, new_series_hold_seconds=5), clock=clock
    )
    counters.on_commit([cost(1.0, "a"), cost(1.0, "b"), cost(1.0, "c")])
    dropped = {("metric", COST)}
    assert scraped(counters, "cc_analytics_series_dropped_total")[frozenset(dropped)] == 0.0
    clock.now += 5
    assert scraped(counters, "cc_analytics_series_dropped_total")[frozenset(dropped)] == 2.0


def test_a_restarted_exporter_exposes_the_previous_series_again_at_zero(tmp_path: Path) -> None:
    journal_path = tmp_path / "prometheus-series.jsonl"
    config = PrometheusExporterConfig(new_series_hold_seconds=0, series_journal=str(journal_path))
    killed_journal = SeriesJournal(journal_path)
    before = ClaudeCodeCounters(config, journal=killed_journal)
    before.on_commit([cost(1.0, "m"), cost(0.5, "n")])
    assert len(scraped(before)) == 2
    # SIGKILL: nothing is closed; what was appended is on disk already.
    after = ClaudeCodeCounters(config, journal=SeriesJournal(journal_path))
    assert sorted(scraped(after).values()) == [0.0, 0.0]
    after.on_commit([cost(0.25, "m")])
    assert scraped(after)[REJECT] == 0.25
    killed_journal.close()  # the killed process's file handle, released only now that the test is done with it
    after.close()


def test_after_a_graceful_stop_the_series_go_on_from_their_final_values(tmp_path: Path) -> None:
    journal_path = tmp_path / "prometheus-series.jsonl"
    clock = Clock()
    config = PrometheusExporterConfig(new_series_hold_seconds=5, series_journal=str(journal_path))
    before = ClaudeCodeCounters(config, clock=clock, journal=SeriesJournal(journal_path))
    before.on_commit([cost(1.0, "m")])
    clock.now += 5
    before.on_commit([cost(0.5, "m"), cost(2.0, "n")])  # committed after the last scrape: not seen yet
    before.close()
    after = ClaudeCodeCounters(config, clock=clock, journal=SeriesJournal(journal_path))
    shown = scraped(after)
    assert shown[REJECT] == 1.5  # goes on: Prometheus reads 1.0 → 1.5, the unscraped 0.5 counted
    assert sorted(shown.values()) == [0.0, 1.5]  # "n" was still held at the stop: held again, from 2.0
    clock.now += 5
    assert sorted(scraped(after).values()) == [1.5, 2.0]
    # The values were good for that start only: a crash now restores at 0.
    crashed = ClaudeCodeCounters(config, clock=clock, journal=SeriesJournal(journal_path))
    assert sorted(scraped(crashed).values()) == [0.0, 0.0]
    assert crashed.values(COST) == {REJECT: 0.0, REJECT - {("model", "m")} | {("model", "n")}: 0.0}


def test_the_journal_skips_a_torn_line_and_forgets_series_idle_past_the_ttl(tmp_path: Path) -> None:
    journal_path = tmp_path / "prometheus-series.jsonl"
    wall = Clock(1_000_000.0)
    config = PrometheusExporterConfig(
        new_series_hold_seconds=0, series_ttl_seconds=100, series_journal=str(journal_path)
    )
    first_journal = SeriesJournal(journal_path)
    first = ClaudeCodeCounters(config, journal=first_journal, wall_clock=wall)
    first.on_commit([cost(1.0, "old")])
    wall.now += 90
    first.on_commit([cost(1.0, "m")])
    first_journal.close()  # the process died here: its appends are on disk, nothing was rewritten
    with journal_path.open("a") as out:
        out.write('{"m":"claude_code_cost_usage_USD_total","n":["organiz')  # power lost mid-append
    wall.now += 20  # "old" was last seen 110 s ago, past the TTL; "m" 20 s ago
    second = ClaudeCodeCounters(config, journal=SeriesJournal(journal_path), wall_clock=wall)
    assert scraped(second) == {REJECT: 0.0}
    assert len(journal_path.read_text().splitlines()) == 1  # rewritten without the torn line and "old"


def test_openmetrics_carries_created_and_parses() -> None:
    clock, wall = Clock(), Clock(1_700_000_000.0)
    counters = ClaudeCodeCounters(PrometheusExporterConfig(new_series_hold_seconds=0), clock=clock, wall_clock=wall)
    counters.on_commit([cost(1.5, "m")])
    text = counters.render_text(openmetrics=True) + "# EOF\n"
    families = {family.name: family for family in openmetrics_families(text)}
    samples = {(s.name, frozenset(s.labels.items())): s.value for s in families["claude_code_cost_usage_USD"].samples}
    assert samples[(COST, REJECT)] == 1.5
    assert samples[("claude_code_cost_usage_USD_created", REJECT)] == 1_700_000_000.0
    assert families["claude_code_cost_usage_USD"].type == "counter"


def test_self_metrics_are_held_at_start_up_and_text_format_has_no_created() -> None:
    clock = Clock()
    registry = CollectorRegistry()
    refused = Counter("cc_test_refused", "refused requests", ["status"], registry=registry)
    refused.labels("bad_request").inc(20)
    view = RegistryView(registry, hold_seconds=30, clock=clock)

    def values(openmetrics: bool) -> dict[str, float]:
        body = render(view, [], openmetrics).decode()
        parse = openmetrics_families if openmetrics else text_string_to_metric_families
        return {sample.name: sample.value for family in parse(body) for sample in family.samples}

    assert values(False) == {"cc_test_refused_total": 0.0}
    clock.now += 30
    assert values(False) == {"cc_test_refused_total": 20.0}
    with_created = values(True)
    assert with_created["cc_test_refused_total"] == 20.0 and "cc_test_refused_created" in with_created


@pytest.mark.parametrize(
    ("code", "expected"),
    [("429", "429"), ("500", "5xx"), ("529", "5xx"), ("400", "other"), ("", "other"), ("5", "other")],
)
def test_api_error_status_classes(code: str, expected: str) -> None:
    assert status_class(code) == expected


def test_scrape_token_as_bearer_or_basic_password(tmp_path: Path) -> None:
    token_file = tmp_path / "scrape-token"
    token_file.write_text("s3cret-scrape\n")
    exporter = create_exporter(PrometheusExporterConfig(scrape_token_file=str(token_file), openmetrics=True))
    asyncio.run(_scrape_with_tokens(exporter.app()))


async def _scrape_with_tokens(app) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as client:
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 401
        assert (await client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"})).status_code == 200
        basic = base64.b64encode(b"prometheus:s3cret-scrape").decode()
        answer = await client.get("/metrics", headers={"Authorization": f"Basic {basic}"})
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain; version=0.0.4")
        openmetrics = await client.get(
            "/metrics",
            headers={"Authorization": "Bearer s3cret-scrape", "Accept": "application/openmetrics-text; version=1.0.0"},
        )
        assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
        assert openmetrics.text.endswith("# EOF\n")


def test_openmetrics_only_when_enabled() -> None:
    exporter = create_exporter(PrometheusExporterConfig(new_series_hold_seconds=0))
    exporter.on_commit([cost(1.0, "m")], [])

    async def scrape() -> httpx.Response:
        transport = httpx.ASGITransport(app=exporter.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as client:
            return await client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})

    answer = asyncio.run(scrape())
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "_created" not in answer.text and f"{COST}{{" in answer.text
