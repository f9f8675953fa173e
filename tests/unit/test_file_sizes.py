"""No source file of the product packages is over 500 lines: a file that long has several jobs, and is split
along its seams (as receiver/otlp/decoding/ and loadgen/ are) before it grows further."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("pdata", "receiver", "processors", "exporters", "console", "collector", "loadgen")
SOURCES = ("*.py", "*.sql", "*.js", "*.css", "*.html")
MAX_LINES = 500


def _lines(path: Path) -> int:
    with path.open("rb") as source:
        return sum(1 for _ in source)


def test_no_product_source_file_is_over_500_lines() -> None:
    sources = sorted(path for package in PRODUCT for pattern in SOURCES for path in (ROOT / package).rglob(pattern))
    assert len(sources) > 80  # the packages were found
    too_long = {str(path.relative_to(ROOT)): _lines(path) for path in sources if _lines(path) > MAX_LINES}
    assert too_long == {}
