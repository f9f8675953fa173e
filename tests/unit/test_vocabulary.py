"""The shared words are declared once (pdata/vocabulary.py) and what cannot import them agrees with them: the
fact names the rollups' SQL sums, the families the collector exposes on /metrics (a real collector's scrape),
the console page's tools; and no other code spells a collector family's name."""

from __future__ import annotations

import ast
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from pdata import MetricPoint
from pdata.vocabulary import CODE_EDIT_TOOLS, FACTS, SELF_METRICS
from processors.derive import fact_of
from tests.support import otlp_raw
from tests.support.collector import CollectorProcess

ROOT = Path(__file__).resolve().parents[2]
_FACT_LITERALS = re.compile(r"\bfact\s*(?:=\s*'([^']*)'|IN\s*\(([^)]*)\))", re.IGNORECASE)


def _sql_facts() -> dict[str, set[str]]:
    """Every fact named in the store's SQL (fact = '…' and fact IN ('…', …)), with the files naming it: the
    migrations, the named queries and the fragments they include (queries/fragments/), each file as written."""
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


# The events counter's policy labels allowed, per-member labels on: every label of every row can be exposed.
_EVERY_LABEL_ENV = {
    "CC_ANALYTICS_METRICS_LABELS": "organization_id,team,model,tool_name,decision",
    "CC_ANALYTICS_METRICS_MEMBER_LABELS": "true",
    "CC_ANALYTICS_METRICS_GAUGE_CACHE_SECONDS": "0",
}


def _event(name: str, **attributes: str) -> dict[str, Any]:
    identity = {**otlp_raw.who("org-vocab"), "team.id": "core", **attributes, "event.name": name}
    return {
        "timeUnixNano": str(otlp_raw.now_ns()),
        "body": {"stringValue": f"claude_code.{name}"},
        "attributes": [{"key": key, "value": {"stringValue": value}} for key, value in identity.items()],
    }


def _logs(*records: dict[str, Any]) -> dict[str, Any]:
    return {"resourceLogs": [{"resource": {}, "scopeLogs": [{"scope": {}, "logRecords": list(records)}]}]}


def _exposed(text: str) -> dict[str, tuple[str, str, frozenset[str]]]:
    """{family: (type, help, label names of its samples)} of the collector's own families on a scrape."""
    found = {}
    for family in text_string_to_metric_families(text):
        if family.name.startswith("cc_analytics_"):
            labels = frozenset(name for sample in family.samples for name in sample.labels if name != "le")
            found[family.name] = (family.type, family.documentation, labels)
    return found


def _declared() -> dict[str, tuple[str, str, frozenset[str]]]:
    """The rows as a text scrape shows them: info metrics are gauges named with their _info suffix."""
    return {
        (row.sample if row.type == "info" else row.name): (
            "gauge" if row.type == "info" else row.type,
            row.help,
            frozenset(row.labels),
        )
        for row in SELF_METRICS
    }


def test_every_collector_family_on_metrics_is_a_declared_row_and_every_row_is_exposed(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path / "data", extra_env=_EVERY_LABEL_ENV).start()
    try:
        # A decision makes the acceptance ratio; the events together fill every label of the events counter.
        otlp_raw.send(collector, "http/json", otlp_raw.edit_request("org-vocab", 3))
        decision = _event("tool_decision", tool_name="Edit", decision="accept", source="config")
        result = _event("tool_result", tool_name="Edit", success="true")
        error = _event("api_error", model="claude-opus-4-6", status_code="429")
        otlp_raw.send(collector, "http/json", _logs(decision, result, error), signal="logs")
        text = collector.metrics_text()
        deadline = time.monotonic() + 60  # the derived gauges read the rollups at each scrape
        while "cc_analytics_acceptance_ratio{" not in text and time.monotonic() < deadline:
            time.sleep(0.2)
            text = collector.metrics_text()
    finally:
        collector.kill()
    exposed, declared = _exposed(text), _declared()
    assert {name: exposed[name] for name in exposed if exposed[name] != declared.get(name)} == {}
    assert sorted(set(declared) - set(exposed)) == []


def _string_literals(path: Path) -> Iterator[tuple[int, str]]:
    """(line, text) of every string literal of a module but its docstrings (the parts of f-strings included)."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


# A family name starting a literal, quoted in prose (`…`) or inside a recording rule's name (level:metric:ops).
_FAMILY_LITERAL = re.compile(r"(?:^|[`:])cc_analytics_[a-z]")
_NAMING_CODE = (
    "pdata",
    "receiver",
    "processors",
    "exporters",
    "console",
    "collector",
    "loadgen",
    "dashboards",
    "deploy",
)


def test_no_code_names_a_collector_family_but_the_vocabulary() -> None:
    """Names, help and labels come from pdata/vocabulary.py's rows; dashboards/ JSON and YAML are generated."""
    sources = [path for package in _NAMING_CODE for path in sorted((ROOT / package).rglob("*.py"))]
    assert len(sources) > 80
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text[:60]!r}"
        for path in sources
        if path != ROOT / "pdata" / "vocabulary.py"
        for line, text in _string_literals(path)
        if _FAMILY_LITERAL.search(text)
    ]
    assert found == []


def test_the_console_page_lists_the_code_edit_tools() -> None:
    script = (ROOT / "console" / "static" / "console.js").read_text()
    listed = re.search(r"const TOOLS = \[([^\]]*)\];", script)
    assert listed is not None
    assert tuple(re.findall(r'"([^"]+)"', listed.group(1))) == CODE_EDIT_TOOLS
