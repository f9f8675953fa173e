"""What users query: `sum(increase(metric[range]))` in a real Prometheus equals the API, for a sparse workload.

Claude Code's series are sparse: one reject, one commit, a model used once. The workload below has increments
further apart than the series TTL (a series expires and comes back), single-increment series, a graceful
restart right after increments no scrape has seen yet, a crash (SIGKILL) after which series climb back to the
value they had before it (only the 0 exposed while a restarted collector holds its counters shows the reset),
and two Prometheus servers scraping at different phases (every 1 s and every 1.5 s), as an HA pair does. For
every counter the dashboards and rules use, both servers' `sum(increase(metric[range]))`, over a range covering
the workload and evaluated at the timestamp of their latest scrape, equal the API's figures:

- exactly (1e-9) for series still exposed at that time (all but one here);
- for a series that ended (one token series used once and then expired), within Prometheus's own end-of-series
  extrapolation: `increase()` stretches what it saw towards the end of the range by at most 1.1 average scrape
  intervals, so it reads at most `V × (1 + 1.1 / (n − 1))` for a true increase V seen in n samples (here
  n ≈ 15–25, so under 8 %). The test computes that stretch from the raw samples with Prometheus's own formula,
  and the sum minus the stretch is again exact.

Claude Code's events, counted by the collector in `cc_analytics_events_total` (the API error ratio and tool-loop
alerts, the API and tool panels), and active time follow the same phases; the API has no figure for them, so
they are compared with what was sent, every request acknowledged in full.

The same holds for the collector's own counters: the 12 requests refused because of their sender (7 malformed,
3 of a media type the collector does not take, 2 too large) show 12 in `increase()` across both restarts, under
each status label and under the matcher of the CollectorIngestMisconfiguredSenders alert.
"""

from __future__ import annotations

import gzip
import math
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml

from tests.dashboards import common
from tests.support import workload
from tests.support.collector import METRICS_HOLD_SECONDS, CollectorProcess
from tests.support.otlp_raw import delta_body
from tests.support.prometheus import Labels, PrometheusServer

pytestmark = pytest.mark.prometheus

TTL_SECONDS = 20
LATER_TTL_SECONDS = 600  # after the first restart
# After the first restart the collector holds new series, and every counter after start-up, for 6 s rather than the
# tests' 2 s: a collector starting on a loaded machine may answer its first scrapes late, and the crash below is
# followed by series that return to the value they had before it, whose drop only the 0 of the hold shows.
LATER_HOLD_SECONDS = 6
ALICE = {**workload.ALICE, "session.id": "sess-a1"}
ALICE_2 = {**workload.ALICE, "session.id": "sess-a2"}
BOB = {**workload.BOB_1, "session.id": "sess-b1"}
BOB_2 = {**workload.BOB_1, "session.id": "sess-b2"}
OPUS, SONNET = "claude-opus-4-6", "claude-sonnet-4-5"
LINES, DECISION, COST, TOKENS = workload.LINES, workload.DECISION, workload.COST, workload.TOKENS
SESSION, COMMIT, PULL_REQUEST = workload.SESSION, workload.COMMIT, workload.PULL_REQUEST
UNITS = workload.UNITS
ACTIVE_TIME = workload.ACTIVE_TIME

Increment = tuple[str, float, dict[str, str]]


def _inc(metric: str, value: float, who: dict[str, str], **extra: str) -> Increment:
    return metric, value, {**who, **extra}


def _accept(who: dict[str, str], tool: str, language: str) -> Increment:
    return _inc(DECISION, 1, who, tool_name=tool, decision="accept", source="config", language=language)


def _reject(who: dict[str, str], tool: str, language: str) -> Increment:
    return _inc(DECISION, 1, who, tool_name=tool, decision="reject", source="user_reject", language=language)


def _cost(who: dict[str, str], value: float, model: str) -> Increment:
    return _inc(COST, value, who, model=model, query_source="main")


def _tokens(who: dict[str, str], value: float, kind: str, model: str = OPUS) -> Increment:
    return _inc(TOKENS, value, who, type=kind, model=model, query_source="main")


def _lines(who: dict[str, str], value: float, kind: str, model: str) -> Increment:
    return _inc(LINES, value, who, type=kind, model=model)


# Phase 1, then nothing for longer than the TTL: every series of phase 1 expires. All but the cacheCreation
# tokens come back later (bob's Edit reject is the "two rejects further apart than the TTL" case).
PHASE_1 = [
    _inc(SESSION, 1, ALICE, start_type="fresh"),
    _inc(SESSION, 1, BOB, start_type="fresh"),
    _accept(ALICE, "Write", "Python"),
    _lines(ALICE, 10, "added", OPUS),
    _cost(ALICE, 0.25, OPUS),
    _tokens(ALICE, 1000, "input"),
    _tokens(ALICE, 50, "cacheCreation"),  # used once, never again: this series ends
    _reject(BOB, "Edit", "Go"),
    _inc(ACTIVE_TIME, 30, ALICE, type="user"),
]
PHASE_2 = [
    _inc(SESSION, 1, ALICE_2, start_type="fresh"),
    _reject(BOB, "Edit", "Go"),
    _accept(ALICE_2, "Write", "Python"),
    _lines(ALICE_2, 5, "added", OPUS),
    _cost(ALICE_2, 0.125, OPUS),
    _tokens(ALICE_2, 500, "input"),
    _tokens(ALICE_2, 200, "output"),
    _inc(COMMIT, 2, ALICE_2),
    _inc(ACTIVE_TIME, 15, ALICE_2, type="user"),
]
# Sent just before a graceful stop: no scrape sees them before it, the restarted collector goes on from them.
PHASE_3 = [
    _cost(BOB, 0.25, SONNET),
    _lines(BOB, 3, "added", SONNET),
    _lines(BOB, 2, "removed", SONNET),
    _accept(BOB, "MultiEdit", "Go"),
    _tokens(ALICE_2, 300, "cacheRead"),
    _inc(ACTIVE_TIME, 5, BOB, type="cli"),
]
# After the graceful restart; scraped, then the collector is killed.
PHASE_4 = [
    _inc(SESSION, 1, BOB_2, start_type="resume"),
    _reject(ALICE_2, "Edit", "Python"),
    _inc(PULL_REQUEST, 1, ALICE_2),
    _accept(ALICE_2, "Write", "Python"),
    _lines(ALICE_2, 1, "added", OPUS),
    _cost(ALICE_2, 0.125, OPUS),
    _reject(BOB_2, "NotebookEdit", "Python"),
]
# After the crash. The pull request (like the MCP tool result and the 429 error of EVENTS[4], and the refusals of
# REFUSALS[2]) takes its series back to the value it had before the crash: only the 0 scraped during the hold
# shows Prometheus the reset.
PHASE_5 = [
    _inc(PULL_REQUEST, 1, ALICE_2),
    _accept(ALICE_2, "Write", "Python"),
    _lines(ALICE_2, 2, "added", OPUS),
    _cost(ALICE_2, 0.125, OPUS),
    _inc(ACTIVE_TIME, 10, ALICE_2, type="user"),
]

# Claude Code's events, sent with the phase of the same number. Every series of phase 1 expires and comes back in
# phase 2; phase 3's (a 5xx error, an MCP tool) are new just before the graceful stop.
Event = tuple[str, dict[str, str]]


def _api_request(who: dict[str, str], model: str) -> Event:
    return "api_request", {**who, "model": model, "cost_usd": "0.01", "duration_ms": "900"}


def _api_error(who: dict[str, str], model: str, status_code: str) -> Event:
    return "api_error", {**who, "model": model, "status_code": status_code, "attempt": "1", "duration_ms": "300"}


def _tool_result(who: dict[str, str], tool: str, success: str) -> Event:
    return "tool_result", {**who, "tool_name": tool, "success": success, "duration_ms": "20"}


MCP = "mcp__github__create_issue"
EVENTS = (
    [_api_request(ALICE, OPUS), _api_error(BOB, SONNET, "429"), _tool_result(BOB, "Edit", "false")],
    [
        _api_request(ALICE_2, OPUS),
        _api_error(BOB, SONNET, "429"),
        _tool_result(BOB, "Edit", "false"),
        _tool_result(ALICE_2, "Write", "true"),
    ],
    [_api_error(BOB, SONNET, "503"), _tool_result(ALICE_2, MCP, "true")],
    [_api_request(ALICE_2, OPUS), _api_request(ALICE_2, OPUS), _tool_result(ALICE_2, "Write", "true")],
    [_api_request(BOB_2, SONNET), _api_error(BOB_2, SONNET, "429"), _tool_result(ALICE_2, MCP, "true")],
)
# Requests refused because of their sender, by status label: before the first restart, after it, after the crash,
# and right before the graceful stop (no scrape sees them before it: the next start goes on from them).
REFUSALS = (
    {"bad_request": 3, "unsupported_media_type": 1},
    {"bad_request": 2, "too_large": 1},
    {"bad_request": 2, "unsupported_media_type": 2, "too_large": 1},
    {"bad_request": 2, "unsupported_media_type": 1},
)


def _send(collector: CollectorProcess, increments: list[Increment]) -> None:
    body = delta_body([(metric, UNITS.get(metric, ""), value, attributes) for metric, value, attributes in increments])
    response = httpx.post(
        f"{collector.otlp_http_url}/v1/metrics", content=body, headers={"content-type": "application/json"}, timeout=30
    )
    assert response.status_code == 200, response.text


def _send_events(collector: CollectorProcess, events: list[Event], phase: int) -> None:
    records = [
        {
            "timeUnixNano": str(time.time_ns() + index),
            "body": {"stringValue": f"claude_code.{name}"},
            "attributes": [
                *(
                    {"key": key, "value": {"stringValue": value}}
                    for key, value in {**attributes, "event.name": name}.items()
                ),
                {"key": "event.sequence", "value": {"intValue": phase * 100 + index}},
            ],
        }
        for index, (name, attributes) in enumerate(events)
    ]
    scope_logs = [{"scope": {"name": "com.anthropic.claude_code.events"}, "logRecords": records}]
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]}
    document = {"resourceLogs": [{"resource": resource, "scopeLogs": scope_logs}]}
    response = httpx.post(f"{collector.otlp_http_url}/v1/logs", json=document, timeout=30)
    assert response.status_code == 200 and not response.json().get("partialSuccess"), response.text


# What each refusal status is provoked by: a truncated body, a body as text/plain, a gzip body that inflates past
# limits.max_request_bytes (16 MiB by default).
_REFUSED_BODIES = {
    "bad_request": (b'{"resourceMetrics": [', {"content-type": "application/json"}, 400),
    "unsupported_media_type": (b"{}", {"content-type": "text/plain"}, 415),
    "too_large": (
        gzip.compress(b" " * (17 * 1024 * 1024)),
        {"content-type": "application/json", "content-encoding": "gzip"},
        413,
    ),
}


def _send_refused(collector: CollectorProcess, counts: dict[str, int]) -> None:
    for status, count in counts.items():
        body, headers, code = _REFUSED_BODIES[status]
        for _ in range(count):
            response = httpx.post(f"{collector.otlp_http_url}/v1/metrics", content=body, headers=headers, timeout=30)
            assert response.status_code == code, (status, response.status_code, response.text)


def _wait_until_expired(collector: CollectorProcess, fragment: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if fragment not in collector.metrics_text():
            return
        time.sleep(0.5)
    raise AssertionError(f"{fragment} still exposed after {timeout_s}s")


def _wait_for_scrapes(servers: list[PrometheusServer], hold_s: float = METRICS_HOLD_SECONDS) -> None:
    for server in servers:
        server.wait_for_scrape(timeout_s=60, settle=hold_s + 0.1)


# --- Prometheus's increase(), for the series that ended ----------------------------------------------------


def _raw_increase(values: list[float]) -> float:
    """What a series truly increased by over its samples: last − first, plus the value before each reset."""
    total = values[-1] - values[0]
    for previous, current in zip(values, values[1:], strict=False):
        if current < previous:
            total += previous
    return total


def _prometheus_increase(samples: list[tuple[float, float]], start: float, end: float) -> float:
    """Prometheus 2.x's extrapolatedRate() for a counter, not divided by the range (promql/functions.go)."""
    # In integer milliseconds, as Prometheus holds timestamps: differences of float seconds near 1.8e9 lose
    # ~1e-7 s, enough to move the result by more than the 1e-9 the test compares to.
    times = [round(t * 1000) for t, _ in samples]
    values = [v for _, v in samples]
    result = _raw_increase(values)
    to_start, to_end = (times[0] - round(start * 1000)) / 1000, (round(end * 1000) - times[-1]) / 1000
    sampled = (times[-1] - times[0]) / 1000
    average = sampled / (len(samples) - 1)
    if result > 0 and values[0] >= 0:
        to_start = min(to_start, sampled * (values[0] / result))
    threshold = average * 1.1
    interval = sampled + (to_start if to_start < threshold else average / 2)
    interval += to_end if to_end < threshold else average / 2
    return result * (interval / sampled)


class Reading:
    """One server's view of one counter over the workload, evaluated at its latest scrape."""

    def __init__(self, server: PrometheusServer, at: float, range_s: int, selector: str) -> None:
        self.at = at
        series = server.range_samples(f"{selector}[{range_s}s]", at)
        self.exact = 0.0  # Σ true increase of every series
        self.stretch = 0.0  # Σ extrapolation of the series no longer exposed at `at`
        self.ended: list[Labels] = []
        for labels, samples in series:
            true = _raw_increase([v for _, v in samples])
            self.exact += true
            if samples[-1][0] < at - 1e-6:  # not in the latest scrape: the series ended
                extrapolated = _prometheus_increase(samples, at - range_s, at)
                assert true <= extrapolated <= true * (1 + 1.1 / (len(samples) - 1)) + 1e-9, (labels, samples)
                self.stretch += extrapolated - true
                self.ended.append(labels)
        summed = server.query(f"sum(increase({selector}[{range_s}s]))", at=at)
        self.increase = summed[0][1] if summed else 0.0
        assert series and self.increase == pytest.approx(self.exact + self.stretch, abs=1e-9), selector


# --- the test ------------------------------------------------------------------------------------------------


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorProcess]:
    process = CollectorProcess(
        data_dir=tmp_path / "data",
        extra_env={
            "CC_ANALYTICS_METRICS_SERIES_TTL_SECONDS": str(TTL_SECONDS),
            "CC_ANALYTICS_METRICS_GAUGE_CACHE_SECONDS": "0",
        },
    ).start()
    yield process
    process.kill()


def _acceptance_ratio_rule() -> str:
    """The 1-day acceptance-ratio recording rule of dashboards/prometheus/rules.yml, recorded series inlined."""
    groups = yaml.safe_load(common.RULES.read_text())["groups"]
    rules = [rule for group in groups for rule in group["rules"] if "record" in rule]
    ratio = next(
        rule
        for rule in rules
        if "accept" in rule["record"] and "ratio" in rule["record"] and rule["record"].endswith("1d")
    )
    return common.generator_module("alerts").inline_recorded(ratio["expr"])


def test_increase_equals_the_api_for_a_sparse_workload(tmp_path: Path, collector: CollectorProcess) -> None:
    started = time.time()
    scrapers = [
        PrometheusServer([collector.metrics_url], tmp_path / "prom-a", scrape_interval="1s", external_labels={"replica": "a"}),
        PrometheusServer([collector.metrics_url], tmp_path / "prom-b", scrape_interval="1500ms", external_labels={"replica": "b"}),
    ]  # fmt: skip
    for server in scrapers:
        server.start()
    try:
        _wait_for_scrapes(scrapers)
        _send(collector, PHASE_1)
        _send_events(collector, EVENTS[0], 1)
        _send_refused(collector, REFUSALS[0])
        _wait_for_scrapes(scrapers)
        # Nothing for longer than the TTL: phase 1's series expire (a scrape sweeps them away).
        for fragment in ('decision="reject"', 'event_name="api_error"', 'event_name="tool_result"'):
            _wait_until_expired(collector, fragment, timeout_s=TTL_SECONDS + 20)
        _wait_for_scrapes(scrapers)
        _send(collector, PHASE_2)
        _send_events(collector, EVENTS[1], 2)
        _wait_for_scrapes(scrapers)
        _send(collector, PHASE_3)
        _send_events(collector, EVENTS[2], 3)
        _send_refused(collector, REFUSALS[3])
        assert collector.stop() == 0  # graceful, before any scrape saw phase 3
        # Expiry and comeback are shown above; from here on the restarts (slow on a loaded machine) must not let
        # the series of phase 2 expire before the final scrape, so the restarted collector keeps them longer.
        collector.extra_env["CC_ANALYTICS_METRICS_SERIES_TTL_SECONDS"] = str(LATER_TTL_SECONDS)
        collector.extra_env["CC_ANALYTICS_METRICS_NEW_SERIES_HOLD_SECONDS"] = str(LATER_HOLD_SECONDS)
        collector.start()
        _send_refused(collector, REFUSALS[1])
        _send(collector, PHASE_4)
        _send_events(collector, EVENTS[3], 4)
        _wait_for_scrapes(scrapers, LATER_HOLD_SECONDS)
        collector.kill()  # a crash: what was scraped before it is kept
        collector.start()
        _send_refused(collector, REFUSALS[2])
        _send(collector, PHASE_5)
        _send_events(collector, EVENTS[4], 5)
        _wait_for_scrapes(scrapers, LATER_HOLD_SECONDS)
        _assert_prometheus_equals_the_api(collector, scrapers, started)
    finally:
        for server in scrapers:
            server.stop()


def _api_figures(collector: CollectorProcess) -> dict[str, float]:
    today = datetime.now(UTC).date()
    analytics = collector.analytics(today, today)
    totals = analytics["totals"]
    figures = {
        "accepted_lines": totals["accepted_lines"],
        "removed_lines": totals["removed_lines"],
        "spend_usd": totals["spend_usd"],
        "sessions": totals["sessions"],
        "acceptance_rate": totals["acceptance_rate"],
    }
    for tool, by_tool in analytics["acceptance_by_tool"].items():
        figures[f"{tool}/accept"] = by_tool["accepts"]
        figures[f"{tool}/reject"] = by_tool["rejects"]
    report = collector.api_get("/v1/organizations/usage_report/claude_code", starting_at=str(today)).json()["data"]
    for kind in ("input", "output", "cache_read", "cache_creation"):
        figures[f"tokens/{kind}"] = sum(m["tokens"][kind] for r in report for m in r["model_breakdown"])
    figures["commits"] = sum(r["core_metrics"]["commits_by_claude_code"] for r in report)
    figures["pull_requests"] = sum(r["core_metrics"]["pull_requests_by_claude_code"] for r in report)
    return figures


# The API figure each counter selector must give, and the values the workload was built to produce.
SELECTORS = {
    "accepted_lines": ('claude_code_lines_of_code_count_total{type="added"}', 21),
    "removed_lines": ('claude_code_lines_of_code_count_total{type="removed"}', 2),
    "spend_usd": ("claude_code_cost_usage_USD_total", 0.875),
    "sessions": ("claude_code_session_count_total", 4),
    "Write/accept": ('claude_code_code_edit_tool_decision_total{tool_name="Write", decision="accept"}', 4),
    "Edit/reject": ('claude_code_code_edit_tool_decision_total{tool_name="Edit", decision="reject"}', 3),
    "MultiEdit/accept": ('claude_code_code_edit_tool_decision_total{tool_name="MultiEdit", decision="accept"}', 1),
    "NotebookEdit/reject": (
        'claude_code_code_edit_tool_decision_total{tool_name="NotebookEdit", decision="reject"}',
        1,
    ),
    "tokens/input": ('claude_code_token_usage_tokens_total{type="input"}', 1500),
    "tokens/output": ('claude_code_token_usage_tokens_total{type="output"}', 200),
    "tokens/cache_read": ('claude_code_token_usage_tokens_total{type="cacheRead"}', 300),
    "tokens/cache_creation": ('claude_code_token_usage_tokens_total{type="cacheCreation"}', 50),
    "commits": ("claude_code_commit_count_total", 2),
    "pull_requests": ("claude_code_pull_request_count_total", 2),
}


# Counters without an API figure: the events as the dashboards and rules select them, and active time; what was
# sent of each (every request acknowledged in full).
SENT = {
    'cc_analytics_events_total{event_name="api_request"}': 5,
    'cc_analytics_events_total{event_name="api_error"}': 4,
    'cc_analytics_events_total{event_name="api_error", status_class="429"}': 3,
    'cc_analytics_events_total{event_name="api_error", status_class="5xx"}': 1,
    'cc_analytics_events_total{event_name="tool_result"}': 6,
    'cc_analytics_events_total{event_name="tool_result", success="true"}': 4,
    'cc_analytics_events_total{event_name="tool_result", tool_name=~"mcp__.+|mcp_tool"}': 2,
    'claude_code_active_time_seconds_total{type="user"}': 30 + 15 + 10,
    'claude_code_active_time_seconds_total{type="cli"}': 5,
}


def _misconfigured_senders_matcher() -> str:
    """The status matcher of the CollectorIngestMisconfiguredSenders alert, as rules.yml writes it."""
    groups = yaml.safe_load(common.RULES.read_text())["groups"]
    rule = next(r for g in groups for r in g["rules"] if r.get("alert") == "CollectorIngestMisconfiguredSenders")
    matchers = set(re.findall(r'status=~"[^"]+"', rule["expr"]))
    assert len(matchers) == 1, rule["expr"]
    return matchers.pop()


def _assert_prometheus_equals_the_api(
    collector: CollectorProcess, scrapers: list[PrometheusServer], started: float
) -> None:
    api = _api_figures(collector)
    for figure, (_, built) in SELECTORS.items():
        assert api[figure] == built, figure  # the API holds what was sent
    assert api["acceptance_rate"] == 5 / 9
    for server in scrapers:
        at = server.last_scrape_time()
        range_s = math.ceil(at - started) + 5
        for figure, (selector, _) in SELECTORS.items():
            reading = Reading(server, at, range_s, selector)
            assert reading.exact == pytest.approx(api[figure], abs=1e-9), (server.scrape_interval, figure)
            if figure == "tokens/cache_creation":
                assert len(reading.ended) == 1 and reading.stretch > 0  # used once, expired: extrapolated
            else:
                assert reading.ended == [], (figure, reading.ended)
                assert reading.increase == pytest.approx(api[figure], abs=1e-9), (server.scrape_interval, figure)
        ratio = server.query(_acceptance_ratio_rule(), at=at)
        assert [value for _, value in ratio] == [pytest.approx(api["acceptance_rate"], abs=1e-9)]
        for selector, sent in SENT.items():
            reading = Reading(server, at, range_s, selector)
            assert reading.ended == [], (selector, reading.ended)
            assert reading.increase == pytest.approx(sent, abs=1e-9), (server.scrape_interval, selector)
        for status in {status for counts in REFUSALS for status in counts}:
            reading = Reading(server, at, range_s, f'cc_analytics_otlp_requests_total{{status="{status}"}}')
            assert reading.increase == pytest.approx(sum(c.get(status, 0) for c in REFUSALS), abs=1e-9), status
        matcher = _misconfigured_senders_matcher()
        refused = Reading(server, at, range_s, f"cc_analytics_otlp_requests_total{{{matcher}}}")
        assert refused.increase == pytest.approx(sum(sum(counts.values()) for counts in REFUSALS), abs=1e-9)
