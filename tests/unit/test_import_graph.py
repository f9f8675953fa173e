"""The import graph of the product packages, read from the source with `ast` (nothing is imported).

Data flows one way (ARCHITECTURE.md, Packages): the product never reaches into the benchmarks or the tests
(they are not installed, so such an import dies after a regular `pip install .`), the receiver and the
processors never reach down the pipeline into the exporters or up into the console, and the pipeline data
depends on nothing of ours.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("pdata", "receiver", "processors", "exporters", "console", "collector", "loadgen")
OURS = (*PRODUCT, "bench", "tests", "dashboards", "deploy")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(source: str, package: str) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in `source`, a module of `package`, at any depth (imports
    inside functions too); relative imports are resolved against `package`."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                yield node.lineno, ".".join([*base, node.module] if node.module else base)
            else:
                yield node.lineno, node.module or ""


def _imported(path: Path) -> Iterator[tuple[int, str]]:
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    return _imports(path.read_text(), package)


def _top(module: str) -> str:
    return module.partition(".")[0]


def _violations(packages: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            for line, module in _imported(path):
                if _top(module) in forbidden:
                    found.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return found


def test_the_product_never_imports_the_benchmarks_or_the_tests() -> None:
    assert _violations(PRODUCT, ("bench", "tests")) == []


@pytest.mark.parametrize("package", ["receiver", "processors"])
def test_the_receiver_and_the_processors_never_import_the_exporters_or_the_console(package: str) -> None:
    assert _violations((package,), ("exporters", "console")) == []


def test_pipeline_data_imports_nothing_of_ours() -> None:
    assert _violations(("pdata",), tuple(name for name in OURS if name != "pdata")) == []


def test_imports_inside_functions_and_relative_ones_are_seen() -> None:
    # The checks above would miss an import inside a function or `from ..bench import x` without this.
    source = "from . import logs\nfrom .logs import configure\n\ndef f():\n    from ..bench import loadgen\n    import tests.support\n"
    assert list(_imports(source, "collector")) == [
        (1, "collector"),
        (2, "collector.logs"),
        (5, "bench"),
        (6, "tests.support"),
    ]
    assert _module_name(ROOT / "collector" / "cli.py") == "collector.cli"
    assert _module_name(ROOT / "receiver" / "otlp" / "__init__.py") == "receiver.otlp"
