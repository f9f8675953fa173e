"""Poisoned values and times: points that cannot be true are refused with a reason (OTLP partial success) and
never reach a figure; deep nesting is a 400 / INVALID_ARGUMENT, never a 500; label values on /metrics are
capped. Against the real collector, with exact figures through the API.

One collector serves the module; each test uses its own organization, so its figures are its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)

from pdata.vocabulary import LABEL_VALUES_TRUNCATED, OTLP_ITEMS
from tests.support import otlp_raw as otlp
from tests.support.collector import CollectorProcess, samples_of
from tests.support.running import running

JSON = otlp.CONTENT_TYPES["json"]
PROTOBUF = otlp.CONTENT_TYPES["protobuf"]
TOKENS = "claude_code.token.usage"
DAY_NS = 86_400 * 1_000_000_000
MAX_LABEL = 128


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    yield from running(CollectorProcess(data_dir=tmp_path_factory.mktemp("poisoned") / "data"))


# --- helpers ----------------------------------------------------------------------------------------------------


def _gauge(name: str, points: list[dict[str, Any]], unit: str = "") -> dict[str, Any]:
    return {"name": name, "unit": unit, "gauge": {"dataPoints": points}}


def _non_monotonic(name: str, points: list[dict[str, Any]], unit: str = "") -> dict[str, Any]:
    metric = otlp.sum_metric(name, points, otlp.DELTA, unit)
    metric["sum"]["isMonotonic"] = False
    return metric


def _partial(response: httpx.Response) -> tuple[int, str]:
    """(rejected count, reason) of a 200 answer to OTLP/JSON; (0, "") for a full success."""
    assert response.status_code == 200, (response.status_code, response.text)
    partial = response.json().get("partialSuccess") or {}
    count = partial.get("rejectedDataPoints") or partial.get("rejectedLogRecords") or 0
    return int(count), partial.get("errorMessage", "")


def _post_json(collector: CollectorProcess, document: dict[str, Any], signal: str = "metrics") -> tuple[int, str]:
    return _partial(otlp.post(collector, signal, otlp.to_json(document), JSON))


def _totals(collector: CollectorProcess, org: str, start: str | None = None, end: str | None = None) -> dict:
    """Totals of `org` from yesterday to tomorrow (UTC): a point a few minutes ahead may be tomorrow's."""
    today = datetime.now(UTC).date()
    start = start or str(today - timedelta(days=1))
    return collector.analytics(start, end or str(today + timedelta(days=1)), org=org)["totals"]


def _items_rejected(collector: CollectorProcess, reason: str) -> float:
    """cc_analytics_otlp_items_total of metric points refused over HTTP for `reason`."""
    samples = collector.metric_samples(
        OTLP_ITEMS.sample, protocol="http", signal="metrics", outcome="rejected", reason=reason
    )
    assert len(samples) == 1, f"rejected-items series for reason {reason}: {samples}"
    return samples[0].value


# --- values -------------------------------------------------------------------------------------------------------


def test_gauges_and_non_monotonic_sums_of_counters_never_reach_a_figure(collector, org: str) -> None:
    """Claude Code's counters are monotonic sums: the same names as gauges or non-monotonic sums (which may
    carry negative values) are refused, so spend cannot go to -1 000 USD, accepted lines to -50, the
    acceptance rate past 1 or sessions to 2^64 - 5."""
    now = otlp.now_ns()
    ident = otlp.who(org, "dev")
    no_session = {key: value for key, value in ident.items() if key != "session.id"}
    good = otlp.metrics_request([
        otlp.sum_metric(otlp.LINES, [otlp.point(5, {**ident, "type": "added"}, now)]),
        otlp.sum_metric(otlp.COST, [otlp.point(0.25, {**ident, "model": "claude-opus-4-6"}, now)], unit="USD"),
        otlp.sum_metric(otlp.DECISION, [
            otlp.point(3, {**ident, "tool_name": "Write", "decision": "accept"}, now),
            otlp.point(1, {**ident, "tool_name": "Write", "decision": "reject"}, now),
        ]),
        otlp.sum_metric(otlp.SESSION, [otlp.point(1, {**no_session, "start_type": "fresh"}, now)]),
    ])  # fmt: skip
    assert _post_json(collector, good) == (0, "")
    # sessions: one session id, and one session start sent without an id
    expected = {"accepted_lines": 5, "removed_lines": 0, "accepts": 3, "rejects": 1, "acceptance_rate": 0.75,
                "active_users": 1, "sessions": 2, "spend_usd": 0.25}  # fmt: skip

    poisoned = otlp.metrics_request([
        _non_monotonic(otlp.COST, [otlp.point(-1000, {**ident, "model": "claude-opus-4-6"}, now + 1)], "USD"),
        _gauge(otlp.COST, [otlp.point(-1000, {**ident, "model": "claude-opus-4-6", "g": "1"}, now + 1)], "USD"),
        _gauge(otlp.LINES, [otlp.point(-50, {**ident, "type": "added"}, now + 1)]),
        _non_monotonic(otlp.DECISION, [otlp.point(-2, {**ident, "tool_name": "Write", "decision": "reject"}, now + 1)]),
        _gauge(otlp.DECISION, [otlp.point(-2, {**ident, "tool_name": "Edit", "decision": "reject"}, now + 1)]),
        _non_monotonic(otlp.SESSION, [otlp.point(-5, {**no_session, "start_type": "fresh"}, now + 1)]),
    ])  # fmt: skip
    before = _items_rejected(collector, "wrong_metric_type")
    rejected, reason = _post_json(collector, poisoned)
    assert rejected == 6, reason
    assert "monotonic sum" in reason and "gauge" in reason, reason
    assert _items_rejected(collector, "wrong_metric_type") - before == 6
    totals = _totals(collector, org)
    assert {key: totals[key] for key in expected} == expected


def test_negative_not_finite_and_absurd_values_are_refused(collector, org: str) -> None:
    now = otlp.now_ns()
    ident = otlp.who(org, "dev")
    model = {**ident, "model": "claude-opus-4-6"}
    not_finite = [
        {**otlp.point(1, {**model, "n": text}, now), "asDouble": text} for text in ("NaN", "Infinity", "-Infinity")
    ]
    absurd = otlp.metrics_request([
        otlp.sum_metric(otlp.COST, [otlp.point(2e6, model, now)] + not_finite, unit="USD"),
        otlp.sum_metric(otlp.LINES, [otlp.point(2e9, {**ident, "type": "added"}, now),
                                     otlp.point(-50, {**ident, "type": "removed"}, now)]),
        otlp.sum_metric(otlp.SESSION, [otlp.point(2e6, {**ident, "start_type": "fresh"}, now)]),
        otlp.sum_metric(otlp.DECISION, [otlp.point(2e6, {**ident, "tool_name": "Edit", "decision": "accept"}, now)]),
        otlp.sum_metric(TOKENS, [otlp.point(2e12, {**model, "type": "input"}, now)], unit="tokens"),
        # within every bound: counted
        otlp.sum_metric(otlp.LINES, [otlp.point(40, {**ident, "type": "added", "ok": "1"}, now)]),
        otlp.sum_metric(otlp.COST, [otlp.point(1.5, {**model, "ok": "1"}, now)], unit="USD"),
    ])  # fmt: skip
    before = _items_rejected(collector, "implausible_value")
    rejected, reason = _post_json(collector, absurd)
    assert rejected == 9, reason
    assert "not finite" in reason and "negative" in reason and "plausible" in reason, reason
    # the request's first reason decides the label of all its rejected points; send the absurd ones alone
    alone = otlp.metrics_request(
        [
            otlp.sum_metric(otlp.COST, [otlp.point(2e6, {**model, "x": "2"}, now)], unit="USD"),
            otlp.sum_metric(otlp.LINES, [otlp.point(2e9, {**ident, "type": "added"}, now + 1)]),
        ]
    )
    assert _post_json(collector, alone)[0] == 2
    assert _items_rejected(collector, "implausible_value") - before == 2
    totals = _totals(collector, org)
    assert (totals["accepted_lines"], totals["removed_lines"], totals["spend_usd"]) == (40, 0, 1.5)
    assert (totals["accepts"], totals["acceptance_rate"], totals["sessions"]) == (0, None, 1)


def test_a_decrease_of_a_cumulative_counter_is_a_reset_never_a_negative_delta(collector, org: str) -> None:
    now = otlp.now_ns()
    start = now - 10_000_000_000
    for offset, total in ((0, 10), (1, 25), (2, 4), (3, 9)):  # 10, +15, reset to 4, +5
        document = otlp.cumulative_lines_request(org, total, now + offset * 1_000_000, start)
        assert _post_json(collector, document) == (0, "")
    assert _totals(collector, org)["accepted_lines"] == 34


def test_refused_events_numbers_never_reach_the_store(collector, org: str) -> None:
    """api_request events with a negative, infinite or absurd cost are refused; the good one is kept."""
    document = otlp.logs_request(org, ["api_request"] * 4, name="dev")
    records = document["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    for record, cost in zip(records, ("0.5", "-1000", "inf", "1e300"), strict=True):
        record["attributes"].append({"key": "cost_usd", "value": {"stringValue": cost}})
    rejected, reason = _post_json(collector, document, "logs")
    assert rejected == 3, reason
    assert "cost_usd" in reason, reason
    assert _totals(collector, org)["active_users"] == 1


# --- time ----------------------------------------------------------------------------------------------------------


def _today_noon_ns() -> int:
    today = datetime.now(UTC).date()
    return int(datetime(today.year, today.month, today.day, 12, tzinfo=UTC).timestamp()) * 1_000_000_000


def test_a_time_past_the_daily_rollups_range_is_refused_not_wrapped_into_today(collector, org: str) -> None:
    """2^16 days after today (year 2206, still a valid DateTime64(9)) wraps the rollups' Date to today."""
    wrapped = _today_noon_ns() + 65_536 * DAY_NS
    future = otlp.edit_request(org, lines=50, cost=9.0, time_ns=wrapped, name="future")
    rejected, reason = _post_json(collector, future)
    assert rejected == 4, reason
    assert "time window" in reason, reason
    events = otlp.logs_request(org, ["user_prompt"], name="ghost")
    events["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["timeUnixNano"] = str(wrapped)
    rejected, reason = _post_json(collector, events, "logs")
    assert rejected == 1 and "time window" in reason, reason
    assert _post_json(collector, otlp.edit_request(org, lines=3, cost=0.5, name="now")) == (0, "")
    totals = _totals(collector, org)
    assert {key: totals[key] for key in otlp.FIGURES} == otlp.edit_figures(3, 0.5)
    month = datetime.now(UTC).strftime("%Y-%m")
    members = [member["member"] for member in collector.team(month, org=org)["members"]]
    assert members == [f"now@{org}.example"]


def test_points_older_than_the_window_or_ahead_of_it_are_refused(collector, org: str) -> None:
    now = otlp.now_ns()
    old = now - 40 * DAY_NS
    ahead = now + 2 * 3600 * 1_000_000_000
    slightly_ahead = now + 10 * 60 * 1_000_000_000  # 10 minutes of clock skew: accepted
    ident = otlp.who(org, "dev")
    document = otlp.metrics_request([otlp.sum_metric(otlp.LINES, [
        otlp.point(7, {**ident, "type": "added", "at": "old"}, old),
        otlp.point(11, {**ident, "type": "added", "at": "ahead"}, ahead),
        otlp.point(13, {**ident, "type": "added", "at": "skew"}, slightly_ahead),
    ])])  # fmt: skip
    rejected, reason = _post_json(collector, document)
    assert rejected == 2 and "time window" in reason, reason
    old_day = str(datetime.fromtimestamp(old / 1e9, UTC).date())
    assert _totals(collector, org, old_day, old_day)["accepted_lines"] == 0
    assert _totals(collector, org)["accepted_lines"] == 13


def test_a_far_future_cumulative_point_does_not_freeze_its_series(collector, org: str) -> None:
    """The refused point never becomes the series' last seen point, so later points still count."""
    now = otlp.now_ns()
    start = now - 60_000_000_000
    far = otlp.cumulative_lines_request(org, 100, now + 30 * DAY_NS, start)
    rejected, reason = _post_json(collector, far)
    assert rejected == 1 and "time window" in reason, reason
    for offset, total in ((1, 10), (2, 15)):
        assert _post_json(collector, otlp.cumulative_lines_request(org, total, now + offset, start)) == (0, "")
    assert _totals(collector, org)["accepted_lines"] == 15


# --- parsers ---------------------------------------------------------------------------------------------------------


def _nested_json(depth: int, kind: str) -> str:
    if kind == "kvlist":
        return '{"kvlistValue":{"values":[{"key":"k","value":' * depth + '{"stringValue":"x"}' + "}]}}" * depth
    return '{"arrayValue":{"values":[' * depth + '{"stringValue":"x"}' + "]}}" * depth


def _with_deep_attribute(org: str, depth: int, kind: str, name: str = "deep") -> bytes:
    """An edit request whose first point carries an attribute nested `depth` levels (built as text: the
    standard library's own encoder cannot write it)."""
    document = otlp.edit_request(org, lines=100, cost=1.0, name=name)
    data_point = document["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["sum"]["dataPoints"][0]
    data_point["attributes"].append({"key": "deep", "value": "@DEEP@"})
    return otlp.to_json(document).replace(b'"@DEEP@"', _nested_json(depth, kind).encode())


def _deep_protobuf(org: str, depth: int) -> bytes:
    return otlp.deeply_nested(otlp.edit_request(org, lines=100, cost=1.0, name="deep"), depth)


def _refused_400(response: httpx.Response, *words: str) -> None:
    assert response.status_code == 400, (response.status_code, response.text[:300])
    message = response.json()["message"] if response.headers["content-type"].startswith("application/json") else ""
    if not message:
        from google.rpc import status_pb2

        message = status_pb2.Status.FromString(response.content).message
    for word in words:
        assert word in message, (word, message)


@pytest.mark.parametrize("kind", ["kvlist", "array"])
def test_deeply_nested_attribute_values_are_400_not_500(collector, org: str, kind: str) -> None:
    for depth in (17, 400, 5_000):
        _refused_400(otlp.post(collector, "metrics", _with_deep_attribute(org, depth, kind), JSON), "nested")
    logs = otlp.logs_request(org, ["user_prompt"], name="deep")
    logs["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["body"] = "@DEEP@"
    body = otlp.to_json(logs).replace(b'"@DEEP@"', _nested_json(400, kind).encode())
    _refused_400(otlp.post(collector, "logs", body, JSON), "nested")
    # 16 levels are taken
    assert _partial(otlp.post(collector, "metrics", _with_deep_attribute(org, 16, kind, "fine"), JSON)) == (0, "")
    assert collector.process.poll() is None
    assert _totals(collector, org)["accepted_lines"] == 100


def test_json_nested_50000_levels_is_400_not_500(collector, org: str) -> None:
    for body in (b'{"resourceMetrics": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", b"[" * 50_000 + b"]" * 50_000):
        _refused_400(otlp.post(collector, "metrics", body, JSON), "nested")
        _refused_400(otlp.post(collector, "logs", body, JSON), "nested")
    otlp.send(collector, "http/json", otlp.edit_request(org, lines=2))
    assert _totals(collector, org)["accepted_lines"] == 2


def test_deeply_nested_protobuf_values_are_400_and_invalid_argument(collector, org: str) -> None:
    body = _deep_protobuf(org, 40)
    _refused_400(otlp.post(collector, "metrics", body, PROTOBUF), "nested")
    with pytest.raises(grpc.RpcError) as caught:
        otlp.grpc_export(collector, "metrics", body)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "nested" in (caught.value.details() or "")
    answer = ExportMetricsServiceResponse.FromString(otlp.grpc_export(collector, "metrics", _deep_protobuf(org, 16)))
    assert not answer.HasField("partial_success")
    assert _totals(collector, org)["accepted_lines"] == 100


# --- /metrics ----------------------------------------------------------------------------------------------------


def test_long_label_values_are_truncated_on_metrics(collector, org: str) -> None:
    """500 distinct 10 000-character model names: /metrics keeps 128 characters of each and counts the cuts."""

    def truncated_total(text: str) -> float:
        (sample,) = samples_of(text, LABEL_VALUES_TRUNCATED.sample)
        return sample.value

    before = truncated_total(collector.metrics_text())
    now = otlp.now_ns()
    ident = otlp.who(org, "models")
    names = [f"{index:04d}-{org}-" + "m" * 10_000 for index in range(500)]
    points = [otlp.point(0.5, {**ident, "model": name}, now) for name in names]
    for half in (points[:250], points[250:]):  # each request within limits.max_request_bytes (4 MiB)
        document = otlp.metrics_request([otlp.sum_metric(otlp.COST, half, unit="USD")])
        assert _post_json(collector, document) == (0, "")
    text = collector.metrics_text()
    models = [sample.labels["model"] for sample in samples_of(text, "claude_code_cost_usage_USD_total")]
    values = [value for value in models if org in value]
    assert len(values) == 500
    assert {len(value) for value in values} == {MAX_LABEL}
    assert truncated_total(text) - before == 500
    assert len(text) < 2_000_000, len(text)
    assert _totals(collector, org)["spend_usd"] == 250.0


def test_a_healthy_request_after_everything(collector, org: str) -> None:
    otlp.send(collector, "grpc", otlp.edit_request(org, lines=4, cost=0.125))
    totals = _totals(collector, org)
    assert {key: totals[key] for key in otlp.FIGURES} == otlp.edit_figures(4, 0.125)
    assert httpx.get(f"{collector.api_url}/healthz", timeout=10).status_code == 200
