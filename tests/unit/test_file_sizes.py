"""No source file of the product packages, the dashboard and deployment generators or the benchmarks is over 500
lines: a file that long has several jobs, and is split along its seams (as receiver/otlp/decoding/,
dashboards/generator/alerts/ and loadgen/ are) before it grows further."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("pdata", "receiver", "processors", "exporters", "console", "collector", "loadgen")
SOURCES = ("*.py", "*.sql", "*.js", "*.css", "*.html")
# The code that writes the committed dashboards, rules and manifests, and the benchmarks: Python only (their
# generated JSON and YAML outputs are as long as what they describe).
TOOLING = ("dashboards", "bench")
TOOLING_FILES = ("deploy/generate.py",)
MAX_LINES = 500


def _lines(path: Path) -> int:
    with path.open("rb") as source:
        return sum(1 for _ in source)


def _too_long(sources: list[Path]) -> dict[str, int]:
    return {str(path.relative_to(ROOT)): _lines(path) for path in sources if _lines(path) > MAX_LINES}


def test_no_product_source_file_is_over_500_lines() -> None:
    sources = sorted(path for package in PRODUCT for pattern in SOURCES for path in (ROOT / package).rglob(pattern))
    assert len(sources) > 80  # the packages were found
    assert _too_long(sources) == {}


def test_no_generator_or_benchmark_file_is_over_500_lines() -> None:
    sources = sorted(path for folder in TOOLING for path in (ROOT / folder).rglob("*.py"))
    sources += [ROOT / name for name in TOOLING_FILES]
    assert ROOT / "dashboards" / "generate.py" in sources and ROOT / "bench" / "run.py" in sources
    assert len(sources) > 30  # the generator's modules were found
    assert _too_long(sources) == {}
