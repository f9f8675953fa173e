"""The generated alert table of dashboards/README.md."""

from __future__ import annotations

from generator.alerts import ALERTS
from generator.vocabulary import THRESHOLDS

# --- README alert table ---------------------------------------------------------------------------------------

README_BEGIN = "<!-- BEGIN GENERATED ALERTS (dashboards/generate.py) -->"
README_END = "<!-- END GENERATED ALERTS -->"


def readme_alerts() -> str:
    lines = [README_BEGIN, "", "| alert | severity | fires when | what to do |", "|---|---|---|---|"]
    for alert in ALERTS:
        lines.append(
            f"| `{alert.name}` | {alert.severity} | {alert.description} Sustained for {alert.for_}. | {alert.action} |"
        )
    lines += ["", "| threshold (`THRESHOLDS` in generator/vocabulary.py) | value | meaning |", "|---|---|---|"]
    for name, threshold in THRESHOLDS.items():
        lines.append(f"| `{name}` | `{threshold.value}` | {threshold.meaning} |")
    lines += ["", README_END]
    return "\n".join(lines)


def readme_text(current: str) -> str:
    if README_BEGIN not in current or README_END not in current:
        return current
    head, rest = current.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    return head + readme_alerts() + tail
