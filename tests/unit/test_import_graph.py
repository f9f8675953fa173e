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


# --- the store: created by the composition root alone, used through pdata.store's protocols -----------------------

STORE_PACKAGE = ROOT / "exporters" / "clickhouse"
# The composition root creates the store (through exporters.clickhouse.create_store); the store's own tests
# build it too, so the tests are not held to this.
STORE_CREATORS = ("collector/app.py",)


def _outside_the_store(packages: tuple[str, ...]) -> Iterator[Path]:
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            if not path.is_relative_to(STORE_PACKAGE):
                yield path


def _names_the_concrete_store(source: str, package: str) -> Iterator[int]:
    """Lines of `source` importing exporters.clickhouse.store or the name ClickHouseStore from the store's package."""
    for line, module in _imports(source, package):
        if module == "exporters.clickhouse.store" or module.startswith("exporters.clickhouse.store."):
            yield line
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("exporters.clickhouse"):
            if any(alias.name == "ClickHouseStore" for alias in node.names):
                yield node.lineno


def _store_private_names() -> set[str]:
    """The store's private attributes and methods (read from store.py), and the names a client or pool of any
    store would go by."""
    names = {"_client", "_pool"}
    for node in ast.walk(ast.parse((STORE_PACKAGE / "store.py").read_text())):
        if isinstance(node, ast.ClassDef) and node.name == "ClickHouseStore":
            for inner in ast.walk(node):
                if isinstance(inner, ast.FunctionDef) and inner.name.startswith("_") and not inner.name.endswith("__"):
                    names.add(inner.name)
                elif (
                    isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name) and inner.value.id == "self"
                ):
                    if inner.attr.startswith("_"):
                        names.add(inner.attr)
    return names


def _private_accesses(source: str, private: set[str]) -> Iterator[tuple[int, str]]:
    """(line, name) of every `x.<private name>` where x is not the module's own `self`, and of every `.client` of
    something named a store (`store.client()`, `self._store.client`): a client lent by the store."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in private:
            if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                yield node.lineno, node.attr
        elif isinstance(node, ast.Attribute) and node.attr == "client" and "store" in ast.unparse(node.value).lower():
            yield node.lineno, node.attr


def test_only_the_composition_root_names_the_concrete_store() -> None:
    packages = tuple(name for name in OURS if name != "tests")
    found = []
    for path in _outside_the_store(packages):
        if str(path.relative_to(ROOT)) in STORE_CREATORS:
            continue
        name = _module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found += [f"{path.relative_to(ROOT)}:{line}" for line in _names_the_concrete_store(path.read_text(), package)]
    assert found == []


def test_nothing_outside_the_store_reaches_into_its_client_or_pool() -> None:
    private = _store_private_names()
    assert {"_lend", "_pool", "_probe"} <= private  # what the store holds its clients in, read from its source
    found = [
        f"{path.relative_to(ROOT)}:{line} .{name}"
        for path in _outside_the_store(OURS)
        for line, name in _private_accesses(path.read_text(), private)
    ]
    assert found == []


def test_the_store_checks_see_what_they_look_for() -> None:
    # Without this the checks above would pass on a rule that matches nothing.
    source = (
        "from exporters.clickhouse import ClickHouseStore\n"
        "from exporters.clickhouse.store import QueryFailed\n"
        "import exporters.clickhouse.store\n"
        "from exporters.clickhouse import create_store\n"
    )
    assert sorted(set(_names_the_concrete_store(source, "console"))) == [1, 2, 3]
    accesses = (
        "store._pool.get()\n"
        "with store._lend() as c:\n"
        "    pass\n"
        "self._pool = None\n"
        "store.query('x', {})\n"
        "with self._store.client() as c:\n"
        "    pass\n"
        "server.client()\n"
    )
    assert sorted(_private_accesses(accesses, {"_pool", "_lend"})) == [(1, "_pool"), (2, "_lend"), (6, "client")]
