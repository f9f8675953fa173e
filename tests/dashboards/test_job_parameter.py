"""The collector's scrape job is a parameter of the generator: `--set collector_job=…` writes rules, promtool
tests and dashboards that read that job (Kubernetes names jobs after namespaces and services), and the alerts'
promtool cases pass with it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.dashboards import common
from tests.support.prometheus import run_rule_tests

JOB = "monitoring/cc-analytics-prod"


def test_rules_and_dashboards_for_another_scrape_job(tmp_path: Path) -> None:
    out = tmp_path / "dashboards"
    generate = [sys.executable, str(common.DASHBOARDS_DIR / "generate.py"), "--set", f"collector_job={JOB}"]
    written = subprocess.run([*generate, "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert written.returncode == 0, written.stderr
    rules = (out / "prometheus" / "rules.yml").read_text()
    jobs = set(re.findall(r'job="([^"]*)"', rules))
    assert jobs == {JOB}, jobs
    assert f'up{{job="{JOB}"}}' in rules  # the scrape-target-missing alert reads the same job
    health = (out / "grafana" / "dashboards" / "collector-health.json").read_text()
    assert f'"value": "{JOB}"' in health  # the job variable's default
    tests = sorted((out / "prometheus" / "tests").glob("*.yml"))
    assert len(tests) == len(common.RULE_TESTS)
    # The test groups whose input series carry the job. The others give the same result whatever the job (a
    # series without the label matches the rules' job selector under neither name), and test_promtool runs them.
    results = run_rule_tests(tests, tmp_path / "promtool", keep=lambda group: f'job="{JOB}"' in str(group))
    assert len(results) >= len(tests)
    for result in results:
        assert result.returncode == 0 and result.stdout.count("SUCCESS") == 1, result.stdout + result.stderr
    # The committed files keep the default job: --out leaves them alone.
    unchanged = subprocess.run([sys.executable, str(common.DASHBOARDS_DIR / "generate.py"), "--check"], timeout=300)
    assert unchanged.returncode == 0


def test_an_unknown_threshold_is_refused_with_the_known_names() -> None:
    generate = [sys.executable, str(common.DASHBOARDS_DIR / "generate.py"), "--set", "colector_job=x", "--check"]
    result = subprocess.run(generate, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "collector_job" in result.stderr, result.stderr
