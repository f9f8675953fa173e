"""The console's views on the Prometheus-only dashboard, from the collector's derived gauges."""

from __future__ import annotations

from typing import Any

from generator.analytics.common import ACCEPTANCE_COLOURS
from generator.analytics.usage_prometheus import cache_hit_stat_prometheus
from generator.grafana import COUNT, PERCENT, USD, Layout, bar_series, panel, prom, prom_graph, prom_targets
from generator.vocabulary import (
    ACCEPTANCE_GAUGE,
    ACCEPTED_LINES_GAUGE,
    ACTIVE_USERS_GAUGE,
    COST,
    DECISIONS,
    EDIT_TOOLS,
    LINES,
    MODEL,
    ORG,
    SESSIONS_GAUGE,
    SPEND_GAUGE,
    TEAM,
    sel,
)

# --- Claude Code Analytics (Prometheus only): the console's views ---------------------------------------------

GAUGE_NOTE = (
    "The collector's derived gauge (read from the rollups, whole UTC days, today included; all organizations and "
    "teams; every replica exposes the same figure, hence max)."
)
WINDOW = 'window="$window"'


def gauge_stat(title: str, gauge: str, description: str, unit: str = COUNT) -> dict[str, Any]:
    return panel(
        "stat",
        title,
        [prom(f"max({gauge}{{{WINDOW}}})", title.split(" (")[0], instant=True)],
        f"{description} {GAUGE_NOTE}",
        unit=unit,
    )


def acceptance_gauge_panels() -> list[dict[str, Any]]:
    ratio = ACCEPTANCE_GAUGE
    overall = panel(
        "stat",
        "Acceptance rate ($window)",
        [prom(f'max({ratio}{{{WINDOW}, tool_name="all"}})', "Acceptance rate", instant=True)],
        "accepts / (accepts + rejects) of code_edit_tool.decision for Edit, MultiEdit, Write and NotebookEdit "
        f"over the window; red below 50 %, amber below 70 %. {GAUGE_NOTE}",
        unit=PERCENT,
        thresholds=ACCEPTANCE_COLOURS,
    )
    by_tool = panel(
        "bargauge",
        "Acceptance rate by tool ($window)",
        [prom(f'max by (tool_name) ({ratio}{{{WINDOW}, tool_name!="all"}})', "{{tool_name}}", instant=True)],
        f"Acceptance rate per code-editing tool over the window. {GAUGE_NOTE}",
        unit=PERCENT,
        defaults={"min": 0, "max": 1},
        thresholds=ACCEPTANCE_COLOURS,
    )
    return [overall, by_tool]


def console_panels_prometheus(layout: Layout) -> list[dict[str, Any]]:
    """The console's views from Prometheus: the exporter's derived gauges (exact, read from the rollups) and the
    counters (per interval)."""
    f = (ORG, TEAM)
    decided = sel(DECISIONS, *f, f'tool_name=~"{EDIT_TOOLS}"')
    accepted = sel(DECISIONS, *f, f'tool_name=~"{EDIT_TOOLS}"', 'decision="accept"')
    added = sel(LINES, *f, 'type="added"')
    removed = sel(LINES, *f, 'type="removed"')
    overall, by_tool = acceptance_gauge_panels()
    return [
        layout.row("Overview: the console's views (Prometheus)"),
        layout.place(
            gauge_stat(
                "Accepted lines ($window)",
                ACCEPTED_LINES_GAUGE,
                "Σ lines_of_code.count{type=added} over the window.",
            ),
            4,
            5,
        ),
        layout.place(gauge_stat("Spend ($window)", SPEND_GAUGE, "Σ cost.usage in USD over the window.", USD), 4, 5),
        layout.place(
            gauge_stat(
                "Active users ($window)",
                ACTIVE_USERS_GAUGE,
                "Distinct members with any point or event in the window.",
            ),
            4,
            5,
        ),
        layout.place(gauge_stat("Sessions ($window)", SESSIONS_GAUGE, "Distinct sessions in the window."), 4, 5),
        layout.place(overall, 4, 5),
        layout.place(cache_hit_stat_prometheus(), 4, 5),
        layout.place(by_tool, 12, 7),
        layout.place(
            prom_graph(
                "Acceptance rate by interval",
                [
                    (
                        f"sum(increase({accepted}[$__interval])) / sum(increase({decided}[$__interval]))",
                        "Acceptance rate",
                    )
                ],
                "accepts / (accepts + rejects) of the code-editing tools per interval, from the counters (follows the "
                "organization and team variables).",
                unit=PERCENT,
                interval="1h",
                defaults={"min": 0, "max": 1},
            ),
            12,
            7,
        ),
        layout.place(
            bar_series(
                "Accepted lines",
                prom_targets(
                    (f"sum(increase({added}[$__interval]))", "Accepted lines"),
                    (f"sum(increase({removed}[$__interval]))", "Removed lines"),
                ),
                "Lines added (accepted) and removed per interval.",
                interval="1h",
            ),
            12,
            7,
        ),
        layout.place(
            prom_graph(
                "Activity: active users and sessions today",
                [
                    (f'max({ACTIVE_USERS_GAUGE}{{window="1d"}})', "Active users"),
                    (f'max({SESSIONS_GAUGE}{{window="1d"}})', "Sessions"),
                ],
                "Distinct members (left axis) and sessions (right axis) so far in the current UTC day.",
                right=["Sessions"],
            ),
            12,
            8,
        ),
        layout.place(
            prom_graph(
                "Spend: active users and USD",
                [
                    (f'max({ACTIVE_USERS_GAUGE}{{window="1d"}})', "Active users"),
                    (f"sum(increase({sel(COST, *f, MODEL)}[$__interval]))", "Spend (USD)"),
                ],
                "Active users today (left axis) and USD spent per interval (right axis).",
                right=["Spend (USD)"],
                right_unit=USD,
                interval="1h",
            ),
            12,
            8,
        ),
        layout.place(members_table_prometheus(), 24, 8),
    ]


def members_table_prometheus() -> dict[str, Any]:
    f = (ORG, TEAM)
    added = sel(LINES, *f, 'type="added"')
    return panel(
        "table",
        "Spend and lines by member (needs per-member labels)",
        [
            prom(f"sort_desc(sum by (member) (increase({sel(COST, *f)}[$__range])))", "", "A", instant=True),
            prom(f"sum by (member) (increase({added}[$__range]))", "", "B", instant=True),
        ],
        "Per member only when the collector exposes the `member` label (metrics.member_labels: true); "
        "otherwise one row for everyone. The exact team table lives in the ClickHouse dashboard.",
        units={"Spend (USD)": USD, "Accepted lines": COUNT},
    ) | {
        "transformations": [
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True},
                    "renameByName": {"member": "Member", "Value #A": "Spend (USD)", "Value #B": "Accepted lines"},
                },
            },
        ]
    }
