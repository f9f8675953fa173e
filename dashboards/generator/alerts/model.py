"""What an alert is: its rule group, its Prometheus expression and annotations, the promtool scenarios that
prove it, and where its runbook and dashboard links point."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from generator.vocabulary import t

# --- where an alert points ------------------------------------------------------------------------------------

PROMETHEUS_DASHBOARD = "cc-analytics-prometheus"
HEALTH_DASHBOARD = "cc-analytics-collector"


def runbook_url(alert_name: str) -> str:
    """A full URL: Alertmanager and Grafana cannot resolve a link relative to the repository."""
    return f"{t('runbook_base_url')}#{alert_name.lower()}"


# --- rule groups ----------------------------------------------------------------------------------------------
# Rules over 1-day and 7-day ranges are evaluated every 5 minutes: they move slowly and each evaluation reads a
# week of samples. Alerts that read such recorded series sit in the same group, after the recording rules, so
# they always see this evaluation's values.

RECORDING = "recording"
CLAUDE_CODE = "claude-code"
DAILY = "claude-code-daily"
COLLECTOR = "collector"
GROUP_INTERVALS: dict[str, str] = {DAILY: "5m"}
GROUP_ORDER = (RECORDING, DAILY, CLAUDE_CODE, COLLECTOR)
ALERT_GROUPS = (CLAUDE_CODE, DAILY, COLLECTOR)


def group_name(group: str) -> str:
    return f"claude-code-analytics.{group}"


# --- alerts ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """A promtool case: input series at the alert's step, and the eval times at which it is checked (most
    collector cases run 25 one-minute steps and are checked at 15 minutes, once a 5-minute `for` has passed)."""

    name: str
    inputs: list[dict[str, str]]
    at: tuple[str, ...] = ("15m",)
    value: float | None = None  # the alert's value when it fires, as the annotations show it


@dataclass(frozen=True)
class Alert:
    name: str
    group: str
    value: str  # the figure compared with the threshold; may use recorded series
    op: str  # ">", "<" or "=="
    threshold: Any
    for_: str
    severity: str
    summary: str
    description: str  # shows {{ $value | <humanize function> }}
    meaning: str  # the runbook's "what it means"; plain text with the thresholds
    check: str  # the runbook's "how to check"
    action: str  # the runbook's "what to do", also an annotation
    firing: Scenario
    quiet: tuple[Scenario, ...]
    labels: dict[str, str]  # labels of the firing alert besides severity
    guard: str = ""  # extra condition joined with `and` (volume minimums, working hours)
    # step of the scenarios' input series (promtool caps a query at 10 000 samples, so week-long scenarios use
    # 10 minutes); it also selects the test file, and with it the evaluation interval (EVALUATION_INTERVALS)
    step: str = "1m"
    # more cases that fire with the same labels (a collector in each queue mode, say)
    also_firing: tuple[Scenario, ...] = ()

    @property
    def dashboard(self) -> str:
        """The uid of the dashboard to open: the collector's own alerts open its health dashboard, every other
        one the usage dashboard that needs Prometheus only."""
        return HEALTH_DASHBOARD if self.group == COLLECTOR else PROMETHEUS_DASHBOARD

    def expr(self) -> str:
        core = f"{paren(self.value)} {self.op} {self.threshold}"
        return f"{core}\nand\n{paren(self.guard)}" if self.guard else core

    def annotations(self) -> dict[str, str]:
        return {
            "summary": self.summary,
            "description": self.description,
            "action": self.action,
            "runbook_url": runbook_url(self.name),
            "dashboard": self.dashboard,
        }


def paren(expr: str) -> str:
    expr = expr.strip()
    return f"({expr})" if ("\n" in expr or " " in expr) and not re.fullmatch(r"[\w:]+\{[^}]*\}", expr) else expr
