"""A real collector fed one cumulative series over raw OTLP requests: each point that adds nothing is counted on
/metrics under its reason, once, and the points that count give the series' exact total."""

from __future__ import annotations

from pathlib import Path

from pdata.vocabulary import CUMULATIVE_POINTS_DROPPED, DEDUP_HITS, SelfMetric
from tests.support import otlp_raw
from tests.support.collector import CollectorProcess, samples_of

ORG = "org-drops"
_S = 1_000_000_000


def _values(text: str, row: SelfMetric) -> dict[tuple[str, ...], float]:
    """{label values in the row's order: value} of one family on a scrape."""
    return {
        tuple(sample.labels[label] for label in row.labels): sample.value for sample in samples_of(text, row.sample)
    }


def test_dropped_cumulative_points_are_counted_by_reason(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path / "data").start()
    try:
        t = otlp_raw.now_ns() - 60 * _S
        start = t - _S
        sequence = [  # (running total, time, start, protocol)
            (10, t + 1 * _S, start, "http/json"),  # first point: 10
            (10, t + 2 * _S, start, "http/json"),  # unchanged
            (15, t + 3 * _S, start, "http/json"),  # +5
            (3, t + 4 * _S, start, "http/json"),  # a value drop is a reset: +3
            (12, t + 2 * _S + _S // 2, start, "http/json"),  # older than the last point: stale
            (3, t + 4 * _S, start, "http/protobuf"),  # the last point again, other bytes: stale
            (3, t + 5 * _S, start, "http/json"),  # unchanged
            (7, t + 6 * _S, t + 5 * _S, "http/json"),  # a new start time is a reset: +7
        ]
        for total, time_ns, start_ns, protocol in sequence:
            otlp_raw.send(collector, protocol, otlp_raw.cumulative_lines_request(ORG, total, time_ns, start_ns))
        # The first request again, byte for byte: a duplicate request, answered and counted once, never a drop.
        first = otlp_raw.to_json(otlp_raw.cumulative_lines_request(ORG, 10, t + _S, start))
        assert otlp_raw.post(collector, "metrics", first, "application/json").status_code == 200

        text = collector.metrics_text()
        assert otlp_raw.figures(collector, ORG)["accepted_lines"] == 25
    finally:
        collector.kill()
    assert _values(text, CUMULATIVE_POINTS_DROPPED) == {("stale",): 2.0, ("unchanged",): 2.0}
    assert _values(text, DEDUP_HITS)[("http", "metrics")] == 1.0
