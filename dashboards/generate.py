"""Generate the Grafana provisioning, the dashboards and the Prometheus rules of claude-code-analytics.

Everything under dashboards/grafana/ and dashboards/prometheus/ (and the alert table of dashboards/README.md)
is written by this script and committed; tests/dashboards/ fails when the committed files are stale.

    python dashboards/generate.py            # write every file
    python dashboards/generate.py --check    # exit 1 if a committed file differs from what would be written
    python dashboards/generate.py --set collector_job=monitoring/cc-analytics --out build/dashboards
                                             # the same files for another scrape job, into another directory

Plain Python dicts produce the Grafana JSON (schemaVersion 39), so the output is stable and reviewable.
Its pieces are the modules of dashboards/generator/ (one per output); alert thresholds live in THRESHOLDS of
generator/vocabulary.py: change a value, run the script, commit the result.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from generator.output import as_yaml, write_or_check
from generator.vocabulary import GENERATED_NOTE, ROOT, THRESHOLDS, Threshold


def yaml_file(document: dict[str, Any]) -> str:
    return as_yaml(document, GENERATED_NOTE)


def outputs() -> dict[Path, str]:
    # Imported here, after --set has changed THRESHOLDS: some modules read a threshold as they load.
    from generator.alerts import prometheus_rules, promtool_tests, recording_tests
    from generator.analytics import analytics_dashboard, analytics_prometheus_dashboard
    from generator.grafana import for_import
    from generator.grafana_alerting import grafana_alerting
    from generator.health import health_dashboard
    from generator.output import as_json
    from generator.provisioning import dashboard_providers, datasources
    from generator.readme import readme_text

    DASHBOARDS = {
        "claude-code-analytics.json": analytics_dashboard,
        "claude-code-analytics-prometheus.json": analytics_prometheus_dashboard,
        "collector-health.json": health_dashboard,
    }
    files: dict[Path, str] = {}
    for name, build in DASHBOARDS.items():
        board = build()
        files[ROOT / "grafana" / "dashboards" / name] = as_json(board)
        files[ROOT / "grafana" / "export" / name] = as_json(for_import(board))
    files[ROOT / "grafana" / "provisioning" / "datasources" / "datasources.yaml"] = yaml_file(datasources())
    files[ROOT / "grafana" / "provisioning" / "dashboards" / "dashboards.yaml"] = yaml_file(dashboard_providers())
    files[ROOT / "grafana" / "provisioning" / "alerting" / "claude-code-analytics.yaml"] = yaml_file(grafana_alerting())
    files[ROOT / "prometheus" / "rules.yml"] = yaml_file(prometheus_rules())
    files[ROOT / "prometheus" / "tests" / "alerts_test.yml"] = yaml_file(promtool_tests("1m"))
    files[ROOT / "prometheus" / "tests" / "alerts_weekly_test.yml"] = yaml_file(promtool_tests("10m"))
    files[ROOT / "prometheus" / "tests" / "recording_test.yml"] = yaml_file(recording_tests())
    readme = ROOT / "README.md"
    if readme.exists():
        files[readme] = readme_text(readme.read_text())
    return files


def override(assignment: str) -> None:
    """NAME=VALUE: a threshold of THRESHOLDS set to VALUE, converted to the type of its default."""
    name, separator, text = assignment.partition("=")
    if not separator or name not in THRESHOLDS:
        raise SystemExit(f"--set {assignment}: expected NAME=VALUE, NAME one of: {', '.join(sorted(THRESHOLDS))}")
    default = THRESHOLDS[name]
    try:
        value = type(default.value)(text)
    except ValueError:
        raise SystemExit(f"--set {assignment}: {name} takes a {type(default.value).__name__}") from None
    THRESHOLDS[name] = Threshold(value, default.meaning)


def relocated(files: dict[Path, str], out: Path) -> dict[Path, str]:
    return {out / path.relative_to(ROOT): content for path, content in files.items() if path.name != "README.md"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a committed file is stale")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change a threshold of generator/vocabulary.py's THRESHOLDS for this run, e.g. "
        "collector_job=monitoring/cc-analytics (the scrape job every collector alert reads); repeatable",
    )
    parser.add_argument(
        "--out", type=Path, help="write into this directory instead of dashboards/ (the README's table stays)"
    )
    args = parser.parse_args(argv)
    for assignment in args.set:
        override(assignment)
    files = outputs()
    if args.out is not None:
        out = args.out.resolve()
        return write_or_check(relocated(files, out), "dashboards/generate.py", out, args.check)
    return write_or_check(files, "dashboards/generate.py", ROOT.parent, args.check)


if __name__ == "__main__":
    sys.exit(main())
