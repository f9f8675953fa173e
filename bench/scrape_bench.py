"""Time one /metrics render with 10 000 Claude Code counter series (goal: under 50 ms).

    .venv/bin/python -m bench.scrape_bench [--series 10000] [--runs 20]

Builds the series through the exporter's commit listener (as the pipeline feeds it), spread over the eight
counters with realistic labels, plus the collector's self-metrics, then renders the full /metrics body the
way the endpoint does (registry through prometheus_client + counters through their fast renderer) and
prints the median and worst time in ms, the body size, and the time with gzip as Prometheus asks for it. No store: the derived gauges are left out
(they are a handful of cached series).
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time

from prometheus_client import CollectorRegistry

from collector.selfmetrics import SelfMetrics
from exporters.prometheus import PrometheusExporterConfig, create_exporter
from exporters.prometheus.names import COUNTERS
from pdata import Member, MetricPoint, PointFact

GOAL_MS = 50.0

_SHAPES = [
    ("claude_code.token.usage", lambda i: {"type": ("input", "output", "cacheRead", "cacheCreation")[i % 4],
                                           "model": f"claude-model-{i % 40}", "query_source": "main"}),
    ("claude_code.cost.usage", lambda i: {"model": f"claude-model-{i % 40}", "query_source": ("main", "subagent")[i % 2]}),
    ("claude_code.lines_of_code.count", lambda i: {"type": ("added", "removed")[i % 2], "model": f"claude-model-{i % 40}"}),
    ("claude_code.code_edit_tool.decision", lambda i: {"tool_name": ("Edit", "Write", "NotebookEdit")[i % 3],
                                                       "decision": ("accept", "reject")[i % 2], "source": "config",
                                                       "language": ("Python", "Go", "TypeScript", "Rust")[i % 4]}),
    ("claude_code.session.count", lambda i: {"start_type": ("fresh", "resume", "continue")[i % 3]}),
    ("claude_code.active_time.total", lambda i: {"type": ("user", "cli")[i % 2]}),
    ("claude_code.commit.count", lambda i: {}),
    ("claude_code.pull_request.count", lambda i: {}),
]  # fmt: skip


def build_facts(series: int) -> list[PointFact]:
    facts = []
    for index in range(series):
        metric, shape = _SHAPES[index % len(_SHAPES)]
        serial = index // len(_SHAPES)
        attributes = {"session.id": f"s-{index}", "terminal.type": ("vscode", "tmux", "iTerm.app")[index % 3]}
        attributes.update(shape(serial))
        # A distinct organization per series keeps every label set unique, as a large fleet would.
        member = Member(f"user-{index % 500}@example.com", "email", f"org-{index}", f"team-{index % 25}")
        point = MetricPoint(metric, "", 1, True, 0, 1, 1.5, attributes, {})
        tool_name = attributes.get("tool_name", "")
        facts.append(PointFact(point, member, 1.5, index, "", tool_name, b"\0" * 16, 1))
    return facts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20)
    arguments = parser.parse_args(argv)

    registry = CollectorRegistry()
    observer = SelfMetrics(registry)
    for protocol in ("grpc", "http"):
        for signal in ("metrics", "logs"):
            observer.request_done(protocol, signal, "ok", "", 100, 0, 0.004)
    config = PrometheusExporterConfig(max_series_per_metric=arguments.series)
    exporter = create_exporter(config, None, registry)
    exporter.on_commit(build_facts(arguments.series), [])
    held = sum(exporter.counters.series_count(name) for name, _ in COUNTERS.values())
    assert held == arguments.series, (held, arguments.series)

    exporter.render()  # warm-up
    timings, zipped = [], []
    size = 0
    for _ in range(arguments.runs):
        started = time.perf_counter()
        body = exporter.render()
        rendered = time.perf_counter()
        gzip.compress(body, compresslevel=1)  # what /metrics adds when the scraper accepts gzip (Prometheus does)
        timings.append((rendered - started) * 1000)
        zipped.append((time.perf_counter() - started) * 1000)
        size = len(body)
    openmetrics = []
    for _ in range(arguments.runs):
        started = time.perf_counter()
        exporter.render(openmetrics=True)
        openmetrics.append((time.perf_counter() - started) * 1000)
    median = statistics.median(timings)
    print(
        f"/metrics render, {held} counter series: median {median:.1f} ms, worst {max(timings):.1f} ms, "
        f"{size / 1e6:.2f} MB; with gzip: median {statistics.median(zipped):.1f} ms (goal < {GOAL_MS:.0f} ms); "
        f"OpenMetrics with _created: median {statistics.median(openmetrics):.1f} ms"
    )
    return 0 if median < GOAL_MS else 1


if __name__ == "__main__":
    sys.exit(main())
