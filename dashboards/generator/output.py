"""How the generated files are rendered and written, by dashboards/generate.py and by deploy/generate.py, which
copies some of them into the Kubernetes manifests: one YAML style, one way to write or to check."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml


def as_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def as_yaml(document: dict[str, Any], note: str) -> str:
    """YAML with multi-line strings as literal blocks, so queries and JSON stay readable in review, under a
    comment line saying where the file comes from."""

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    body = yaml.dump(document, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=100_000)
    return f"# {note}\n{body}"


def write_or_check(
    expected: dict[Path, str], script: str, repo: Path, check: bool, leftovers: Sequence[Path] = ()
) -> int:
    """Write every file of `expected` whose content differs and remove `leftovers` (files the script no longer
    makes); with `check`, change nothing and fail (1) naming each such file, so a stale commit is caught."""
    stale = [path for path, content in expected.items() if not path.exists() or path.read_text() != content]
    if check:
        if stale or leftovers:
            names = [str(path.relative_to(repo)) for path in [*stale, *leftovers]]
            print(f"stale (run python {script}):", *names, sep="\n  ", file=sys.stderr)
            return 1
        return 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(expected[path])
        print(f"wrote {path.relative_to(repo)}")
    for path in leftovers:
        path.unlink()
        print(f"removed {path.relative_to(repo)}")
    return 0
