"""The generated alert sections of dashboards/README.md: the alert table, the thresholds and the runbook."""

from __future__ import annotations

from generator.alerts import ALERTS, Alert, group_name
from generator.vocabulary import THRESHOLDS

# --- README alert sections ------------------------------------------------------------------------------------

README_BEGIN = "<!-- BEGIN GENERATED ALERTS (dashboards/generate.py) -->"
README_END = "<!-- END GENERATED ALERTS -->"


def _table() -> list[str]:
    lines = ["| alert | severity | fires when | dashboard |", "|---|---|---|---|"]
    for alert in ALERTS:
        lines.append(
            f"| [`{alert.name}`](#{alert.name.lower()}) | {alert.severity} | {alert.meaning} Sustained for "
            f"{alert.for_}. | `{alert.dashboard}` |"
        )
    return lines


def _thresholds() -> list[str]:
    lines = ["| threshold (`THRESHOLDS` in generator/vocabulary.py) | value | meaning |", "|---|---|---|"]
    for name, threshold in THRESHOLDS.items():
        lines.append(f"| `{name}` | `{threshold.value}` | {threshold.meaning} |")
    return lines


def _runbook_entry(alert: Alert) -> list[str]:
    # The heading is the anchor of the alert's runbook_url: `#` + the name in lower case.
    return [
        f"#### {alert.name}",
        "",
        f"*{alert.severity}*, for {alert.for_}, group `{group_name(alert.group)}`, dashboard `{alert.dashboard}`.",
        "",
        f"- **Means**: {alert.meaning}",
        f"- **Check**: {alert.check}",
        f"- **Do**: {alert.action}",
        "",
    ]


def readme_alerts() -> str:
    lines = [README_BEGIN, "", *_table(), "", "### Thresholds", "", *_thresholds(), "", "### Runbook", ""]
    for alert in ALERTS:
        lines += _runbook_entry(alert)
    lines += [README_END]
    return "\n".join(lines)


def readme_text(current: str) -> str:
    if README_BEGIN not in current or README_END not in current:
        return current
    head, rest = current.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    return head + readme_alerts() + tail
