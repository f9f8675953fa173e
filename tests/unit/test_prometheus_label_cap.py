"""Label values on /metrics are capped (metrics.max_label_value_length): a sender's long model names cannot grow
the exposition without bound; the cuts are counted and the sums stay exact."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporters.prometheus import ClaudeCodeCounters, PrometheusConfigError, PrometheusExporterConfig
from pdata import EventFact, LogEvent, Member, MetricPoint, PointFact

ALICE = Member("alice@example.com", "email", "org-acme", "core")
COST = "claude_code_cost_usage_USD_total"
TRUNCATED = "cc_analytics_label_values_truncated_total"


def cost(delta: float, model: str) -> PointFact:
    attributes = {"session.id": "s", "user.id": "u", "model": model, "query_source": "main"}
    point = MetricPoint("claude_code.cost.usage", "USD", 1, True, 1, 2, delta, attributes, {})
    return PointFact(point, ALICE, delta, 0, "cost_usd", "", b"\0" * 16, 2)


def scraped(counters: ClaudeCodeCounters, openmetrics: bool = False) -> dict[str, list]:
    text = counters.render_text(openmetrics=openmetrics) + ("# EOF\n" if openmetrics else "")
    if openmetrics:
        from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse
    else:
        parse = text_string_to_metric_families
    return {family.name: family.samples for family in parse(text)}


def test_long_values_are_cut_counted_and_still_summed() -> None:
    counters = ClaudeCodeCounters(PrometheusExporterConfig(new_series_hold_seconds=0, max_label_value_length=32))
    long_a, long_b = "a" * 10_000, "a" * 32 + "b" * 5_000  # the same first 32 characters
    counters.on_commit([cost(0.5, long_a), cost(0.25, long_b), cost(1.0, "claude-opus-4-6")])
    events = [EventFact(LogEvent(1, "api_request", "claude_code.api_request", {"model": "m" * 40}, {}), ALICE,
                        {"model": "m" * 40}, b"\0" * 16, 2)]  # fmt: skip
    counters.on_commit([], events)
    samples = scraped(counters)
    by_model = {sample.labels["model"]: sample.value for sample in samples["claude_code_cost_usage_USD"]}
    assert by_model == {"a" * 32: 0.75, "claude-opus-4-6": 1.0}
    assert [sample.value for sample in samples["cc_analytics_label_values_truncated"]] == [3.0]
    assert [sample.labels["model"] for sample in samples["cc_analytics_events"]] == ["m" * 32]
    assert [sample.value for sample in scraped(counters, openmetrics=True)["cc_analytics_label_values_truncated"]
            if sample.name == TRUNCATED] == [3.0]  # fmt: skip


def test_the_default_cap_is_128_characters_and_a_tiny_cap_is_refused() -> None:
    counters = ClaudeCodeCounters(PrometheusExporterConfig(new_series_hold_seconds=0))
    counters.on_commit([cost(1.0, "x" * 10_000)])
    assert [len(dict(labels)["model"]) for labels in counters.values(COST)] == [128]
    with pytest.raises(PrometheusConfigError, match="max_label_value_length"):
        PrometheusExporterConfig(max_label_value_length=4)
