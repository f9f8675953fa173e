"""/metrics scraped by a real Prometheus: the known workload's figures, exactly, through PromQL."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.support import workload
from tests.support.collector import CollectorProcess
from tests.support.otlp_raw import delta_body
from tests.support.prometheus import PrometheusServer, promtool_binary

pytestmark = pytest.mark.prometheus

LINES = "claude_code_lines_of_code_count_total"
DECISIONS = "claude_code_code_edit_tool_decision_total"
COST = "claude_code_cost_usage_USD_total"
TOKENS = "claude_code_token_usage_tokens_total"
SESSIONS = "claude_code_session_count_total"
NEVER_LABELS = {"session_id", "user_id", "user_email", "user_account_id", "member"}


# Gauges read the rollups at every scrape here, so a scrape after the workload sees all of it.
NO_GAUGE_CACHE = {"CC_ANALYTICS_METRICS_GAUGE_CACHE_SECONDS": "0"}


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorProcess]:
    process = CollectorProcess(data_dir=tmp_path / "data", extra_env=NO_GAUGE_CACHE).start()
    yield process
    process.kill()


@pytest.fixture
def prometheus(tmp_path: Path, collector: CollectorProcess) -> Iterator[PrometheusServer]:
    # A recording rule, to prove the helper's rule loading (the dashboards' rules use the same path).
    rules = tmp_path / "rules.yml"
    rules.write_text(
        "groups:\n  - name: test\n    rules:\n"
        "      - record: cc_test:lines_added:sum\n"
        '        expr: sum(claude_code_lines_of_code_count_total{type="added"})\n'
    )
    with PrometheusServer([collector.metrics_url], tmp_path / "prometheus", rules_files=[rules]) as server:
        yield server


def _post(collector: CollectorProcess, body: bytes) -> None:
    response = httpx.post(
        f"{collector.otlp_http_url}/v1/metrics", content=body, headers={"content-type": "application/json"}, timeout=30
    )
    assert response.status_code == 200, response.text


def _window(days: int) -> tuple[str, str]:
    today = datetime.now(UTC).date()
    return str(today - timedelta(days=days - 1)), str(today)


@pytest.mark.parametrize(
    ("protocol", "temporality"),
    [("grpc", "delta"), ("grpc", "cumulative"), ("http/json", "delta"), ("http/json", "cumulative")],
)
def test_counters_and_gauges_equal_the_known_workload(
    collector: CollectorProcess, prometheus: PrometheusServer, protocol: str, temporality: str
) -> None:
    workload.send(collector.otlp_grpc_url, collector.otlp_http_url, protocol, temporality)
    prometheus.wait_for_scrape()
    prom = prometheus
    totals = collector.analytics(*_window(1))["totals"]

    # The console's figures, from the counters, equal the API's.
    assert prom.value(f'sum({LINES}{{type="added"}})') == totals["accepted_lines"] == 23
    assert prom.value(f'sum({LINES}{{type="removed"}})') == totals["removed_lines"] == 2
    assert prom.value(f"sum({COST})") == totals["spend_usd"] == 0.875
    assert prom.values(f"sum by (tool_name, decision) ({DECISIONS})", ("tool_name", "decision")) == {
        ("Write", "accept"): 3, ("Edit", "accept"): 2, ("Edit", "reject"): 1, ("MultiEdit", "accept"): 1,
        ("NotebookEdit", "reject"): 1, ("Bash", "accept"): 1,
    }  # fmt: skip
    edits = 'tool_name=~"Edit|MultiEdit|Write|NotebookEdit"'
    accepted = prom.value(f'sum({DECISIONS}{{{edits}, decision="accept"}})')
    rejected = prom.value(f'sum({DECISIONS}{{{edits}, decision="reject"}})')
    assert (accepted, rejected) == (totals["accepts"], totals["rejects"]) == (6, 2)
    assert accepted / (accepted + rejected) == totals["acceptance_rate"]
    assert prom.values(f"sum by (model) ({COST})", "model") == {
        "claude-opus-4-6": 0.5, "claude-sonnet-4-5": 0.25, "claude-haiku-4-5": 0.125,
    }  # fmt: skip
    assert prom.values(f"sum by (type) ({TOKENS})", "type") == {"input": 1500, "output": 200}
    assert prom.values(f"sum by (start_type) ({SESSIONS})", "start_type") == {"fresh": 3, "resume": 1}
    assert prom.value("sum(claude_code_commit_count_total)") == 2
    assert prom.value("sum(claude_code_pull_request_count_total)") == 1
    assert prom.values("sum by (type) (claude_code_active_time_seconds_total)", "type") == {"user": 45}
    # Identity labels: the organization (resolved), never a session or a person by default.
    assert prom.values(f"sum by (organization_id) ({COST})", "organization_id") == {"org-acme": 0.75, "": 0.125}
    for labels, _ in prom.query('{__name__=~"claude_code_.+"}'):
        assert not NEVER_LABELS & labels.keys(), labels
    assert prom.value("sum(cc_analytics_series_dropped_total)") == 0
    assert prom.values("sum by (event_name) (cc_analytics_events_total)", "event_name") == {
        "user_prompt": 2, "api_request": 2, "tool_decision": 1, "tool_result": 1,
    }  # fmt: skip
    assert prom.value('sum(cc_analytics_events_total{event_name="tool_result", success="true"})') == 1

    # Derived gauges equal the API's figures over the same whole UTC days.
    for window, days in (("1d", 1), ("7d", 7), ("30d", 30)):
        report = collector.analytics(*_window(days))
        expected = report["totals"]
        assert prom.value(f'cc_analytics_active_users{{window="{window}"}}') == expected["active_users"] == 4
        assert prom.value(f'cc_analytics_sessions{{window="{window}"}}') == expected["sessions"] == 5
        assert prom.value(f'cc_analytics_spend_usd{{window="{window}"}}') == expected["spend_usd"] == 0.875
        assert prom.value(f'cc_analytics_accepted_lines{{window="{window}"}}') == expected["accepted_lines"] == 23
        ratios = prom.values(f'cc_analytics_acceptance_ratio{{window="{window}"}}', "tool_name")
        assert ratios == {
            **{tool: figures["acceptance_rate"] for tool, figures in report["acceptance_by_tool"].items()},
            "all": expected["acceptance_rate"],
        }
        assert ratios["Edit"] == 2 / 3 and ratios["all"] == 0.75

    # Self-metrics: every request accepted, nothing queued.
    assert prom.query('cc_analytics_otlp_requests_total{status!~"ok|duplicate"} > 0') == []
    assert prom.value("sum(cc_analytics_otlp_items_total{outcome='accepted', signal='logs'})") == len(workload.EVENTS)
    assert prom.value("cc_analytics_queue_items") == 0
    assert prom.value("cc_analytics_store_write_errors_total") == 0


def test_a_duplicate_request_does_not_change_the_counters(
    collector: CollectorProcess, prometheus: PrometheusServer
) -> None:
    body = delta_body(
        [
            (workload.LINES, "", 5, {**workload.ALICE, "type": "added", "model": "claude-opus-4-6"}),
            (workload.COST, "USD", 0.25, {**workload.ALICE, "model": "claude-opus-4-6", "query_source": "main"}),
        ]
    )
    _post(collector, body)
    prometheus.wait_for_scrape()
    assert prometheus.value(f"sum({LINES})") == 5
    assert prometheus.value(f"sum({COST})") == 0.25
    _post(collector, body)  # a client retry after a lost response: the same bytes again
    prometheus.wait_for_scrape()
    assert prometheus.value(f"sum({LINES})") == 5
    assert prometheus.value(f"sum({COST})") == 0.25
    assert prometheus.value('sum(cc_analytics_dedup_hits_total{protocol="http", signal="metrics"})') == 1
    assert prometheus.value('sum(cc_analytics_otlp_requests_total{status="duplicate"})') == 1
    assert collector.analytics(*_window(1))["totals"]["accepted_lines"] == 5
    prometheus.wait_for("cc_test:lines_added:sum", 5)
    assert [rule["health"] for group in prometheus.rules() for rule in group["rules"]] == ["ok"]


def test_the_series_cap_holds_in_the_running_collector(tmp_path: Path) -> None:
    collector = CollectorProcess(
        data_dir=tmp_path / "data", extra_env={**NO_GAUGE_CACHE, "CC_ANALYTICS_METRICS_MAX_SERIES_PER_METRIC": "100"}
    ).start()
    try:
        with PrometheusServer([collector.metrics_url], tmp_path / "prometheus") as prom:
            keep = {**workload.ALICE, "model": "keep-me", "query_source": "main"}
            _post(collector, delta_body([(workload.COST, "USD", 3.0, keep)]))
            for chunk in range(10):  # 5000 distinct models, 0.5 USD each
                flood = [
                    (
                        workload.COST,
                        "USD",
                        0.5,
                        {**workload.ALICE, "model": f"flood-{chunk}-{i}", "query_source": "main"},
                    )
                    for i in range(500)
                ]
                _post(collector, delta_body(flood))
            prom.wait_for_scrape()
            assert prom.value(f"count({COST})") == 100  # 99 series of their own + `other`
            assert prom.value(f"sum({COST})") == 3.0 + 5000 * 0.5  # exact in total
            assert prom.value(f'{COST}{{model="keep-me"}}') == 3.0  # exact for the series it keeps
            kept_flood = prom.value(f'count({COST}{{model=~"flood-.*"}})')
            assert kept_flood == 98
            assert prom.value(f'{COST}{{model="other"}}') == (5000 - kept_flood) * 0.5
            assert prom.value(f'cc_analytics_series_dropped_total{{metric="{COST}"}}') == 5000 - kept_flood
            assert prom.value(f'cc_analytics_exporter_series{{metric="{COST}"}}') == 100
            # The store keeps everything: the API and the spend gauge are exact too.
            assert collector.analytics(*_window(1))["totals"]["spend_usd"] == 2503.0
            assert prom.value('cc_analytics_spend_usd{window="1d"}') == 2503.0
    finally:
        collector.kill()


def test_metrics_as_platform_teams_expect_it(tmp_path: Path) -> None:
    """/metrics on its own address behind a scrape token; promtool finds nothing to lint; process, Python and
    build metrics are there from the first scrape."""
    token_file = tmp_path / "scrape-token"
    token_file.write_text("scrape-secret\n")
    collector = CollectorProcess(
        data_dir=tmp_path / "data",
        extra_env={"CC_ANALYTICS_METRICS_BIND": "127.0.0.2", "CC_ANALYTICS_METRICS_SCRAPE_TOKEN_FILE": str(token_file)},
    ).start()
    try:
        metrics_url = f"http://127.0.0.2:{collector.metrics_port}/metrics"
        with pytest.raises(httpx.ConnectError):  # not on the OTLP address
            httpx.get(collector.metrics_url, timeout=5)
        assert httpx.get(metrics_url, timeout=5).status_code == 401
        workload.send_json(collector.otlp_http_url, "delta")
        with PrometheusServer([metrics_url], tmp_path / "prometheus", credentials_file=token_file) as prom:
            prom.wait_for_scrape()
            assert prom.value('up{job="cc-analytics"}') == 1
            assert prom.value(f'sum({LINES}{{type="added"}})') == 23
            assert prom.query('cc_analytics_build_info{version!=""}')
            assert prom.value("process_resident_memory_bytes") > 0
            assert prom.query('python_info{implementation="CPython"}')
        body = httpx.get(metrics_url, headers={"Authorization": "Bearer scrape-secret"}, timeout=5).text
        assert "_created" not in body  # text format 0.0.4: no created series
        lint = subprocess.run(
            [promtool_binary(), "check", "metrics"], input=body, capture_output=True, text=True, timeout=60
        )
        assert lint.returncode == 0, lint.stdout + lint.stderr
    finally:
        collector.kill()
