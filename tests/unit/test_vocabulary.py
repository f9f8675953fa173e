"""The shared words are declared once (pdata/vocabulary.py) and what cannot import them agrees with them: the
fact names the rollups' SQL sums, the families the collector exposes on /metrics, the console page's tools."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from collector.selfmetrics import QueueTracker, SelfMetrics, register_process_metrics
from pdata import MetricPoint
from pdata.vocabulary import CODE_EDIT_TOOLS, FACTS, SELF_METRICS
from processors.derive import fact_of

ROOT = Path(__file__).resolve().parents[2]
_FACT_LITERALS = re.compile(r"\bfact\s*(?:=\s*'([^']*)'|IN\s*\(([^)]*)\))", re.IGNORECASE)


def _sql_facts() -> dict[str, set[str]]:
    """Every fact named in the store's SQL (fact = '…' and fact IN ('…', …)), with the files naming it."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "exporters" / "clickhouse").rglob("*.sql")):
        for single, listed in _FACT_LITERALS.findall(path.read_text()):
            for name in [single] if single else re.findall(r"'([^']*)'", listed):
                found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_fact_the_sql_names_is_a_known_fact_and_every_fact_is_summed() -> None:
    named = _sql_facts()
    assert {name: files for name, files in named.items() if name not in FACTS} == {}
    assert set(named) == FACTS


def _point(metric: str, **attributes: str) -> MetricPoint:
    return MetricPoint(metric, "", 1, True, 0, 1, 1.0, attributes, {}, "")


def test_the_processors_derive_exactly_the_known_facts() -> None:
    points = [
        _point("claude_code.lines_of_code.count", type="added"),
        _point("claude_code.lines_of_code.count", type="removed"),
        *(_point("claude_code.code_edit_tool.decision", tool_name=tool, decision=decision)
          for tool in CODE_EDIT_TOOLS for decision in ("accept", "reject")),
        *(_point("claude_code.token.usage", type=kind) for kind in ("input", "output", "cacheRead", "cacheCreation")),
        *(_point(f"claude_code.{name}") for name in ("cost.usage", "session.count", "commit.count",
                                                     "pull_request.count", "active_time.total")),
    ]  # fmt: skip
    assert {fact_of(point) for point in points} == FACTS
    assert fact_of(_point("claude_code.code_edit_tool.decision", tool_name="Bash", decision="accept")) == ""


def test_the_collector_exposes_exactly_the_declared_self_metric_families() -> None:
    registry = CollectorRegistry()
    SelfMetrics(registry).watch_queue(QueueTracker(consumer=None, queued_items=lambda: 0), 100)  # type: ignore[arg-type]
    register_process_metrics(registry)
    exposed = {
        (family.name, family.type, family.documentation)
        for family in registry.collect()
        if family.name.startswith("cc_analytics_")
    }
    assert exposed == {(family.name, family.type, family.help) for family in SELF_METRICS}
    samples = {sample.name for family in registry.collect() for sample in family.samples}
    assert {family.sample for family in SELF_METRICS if family.type != "histogram"} <= samples


def test_the_console_page_lists_the_code_edit_tools() -> None:
    script = (ROOT / "console" / "static" / "console.js").read_text()
    listed = re.search(r"const TOOLS = \[([^\]]*)\];", script)
    assert listed is not None
    assert tuple(re.findall(r'"([^"]+)"', listed.group(1))) == CODE_EDIT_TOOLS
