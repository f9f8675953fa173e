"""Claude Code's own counters in Prometheus (tokens, spend, lines, commits, cache reads, terminals), shown on
both analytics dashboards."""

from __future__ import annotations

from typing import Any

from generator.analytics.common import CACHE_HIT_COLOURS
from generator.grafana import PERCENT, USD, Layout, bar_series, panel, prom, prom_targets
from generator.vocabulary import ACTIVE_TIME, COMMITS, COST, MODEL, ORG, PULL_REQUESTS, SESSIONS, TEAM, TOKENS, sel

# --- Prometheus: Claude Code's counters -----------------------------------------------------------------------


def usage_panels(layout: Layout) -> list[dict[str, Any]]:
    """Tokens, cost, cache, sessions, commits, active time: Claude Code's counters through Prometheus."""
    f = (ORG, TEAM)
    return [
        layout.row("Usage (Prometheus counters)"),
        layout.place(
            bar_series(
                "Tokens by type and model",
                [prom(f"sum by (type, model) (increase({sel(TOKENS, *f, MODEL)}[$__interval]))", "{{model}} {{type}}")],
                "token.usage per type (input, output, cacheRead, cacheCreation) and model, per interval.",
                interval="5m",
            ),
            12,
            8,
        ),
        layout.place(
            bar_series(
                "Cost by model",
                [prom(f"sum by (model) (increase({sel(COST, *f, MODEL)}[$__interval]))", "{{model}}")],
                "cost.usage in USD per model, per interval.",
                unit=USD,
                interval="5m",
            ),
            12,
            8,
        ),
        layout.place(
            panel(
                "bargauge",
                "Cost by model (time range)",
                [
                    prom(
                        f"sort_desc(sum by (model) (increase({sel(COST, *f, MODEL)}[$__range])))",
                        "{{model}}",
                        instant=True,
                    )
                ],
                "USD per model over the whole time range.",
                unit=USD,
            ),
            8,
            8,
        ),
        layout.place(cache_read_series(), 8, 8),
        layout.place(sessions_by_terminal(), 8, 8),
        layout.place(
            bar_series(
                "Commits and pull requests",
                prom_targets(
                    (f"sum(increase({sel(COMMITS, *f)}[$__interval]))", "Commits"),
                    (f"sum(increase({sel(PULL_REQUESTS, *f)}[$__interval]))", "Pull requests"),
                ),
                "Git commits and pull requests created by Claude Code, per interval.",
                interval="5m",
            ),
            12,
            8,
        ),
        layout.place(
            bar_series(
                "Active time",
                [prom(f"sum by (type) (increase({sel(ACTIVE_TIME, *f)}[$__interval]))", "{{type}}")],
                "active_time.total in seconds: `user` (typing, reading) and `cli` (Claude Code working), per interval.",
                unit="s",
                interval="5m",
            ),
            12,
            8,
        ),
    ]


def cache_ratio_expr(window: str) -> str:
    """cacheRead tokens over prompt-side tokens (input + cacheRead + cacheCreation) over `window`."""
    f = (ORG, TEAM, MODEL)
    cache_read = sel(TOKENS, *f, 'type="cacheRead"')
    prompt_side = sel(TOKENS, *f, 'type=~"input|cacheRead|cacheCreation"')
    return f"(sum(increase({cache_read}[{window}])) or vector(0))\n/\nsum(increase({prompt_side}[{window}]))"


def cache_read_series() -> dict[str, Any]:
    return panel(
        "timeseries",
        "Cache read ratio",
        [prom(cache_ratio_expr("$__interval"), "cache read ratio")],
        "cacheRead tokens / (input + cacheRead + cacheCreation tokens) per interval: the share of prompt tokens "
        "served from the prompt cache.",
        unit=PERCENT,
        interval="5m",
        defaults={"min": 0, "max": 1},
    )


def cache_hit_stat_prometheus() -> dict[str, Any]:
    return panel(
        "stat",
        "Cache hit ratio",
        [prom(cache_ratio_expr("$__range"), "Cache hit ratio", instant=True)],
        "cacheRead tokens / (input + cacheRead + cacheCreation tokens) over the time range, from the token "
        "counter. Red below 50 %, amber below 80 %.",
        unit=PERCENT,
        thresholds=CACHE_HIT_COLOURS,
    )


def sessions_by_terminal() -> dict[str, Any]:
    starts = f"sum by (terminal_type) (increase({sel(SESSIONS, ORG, TEAM)}[$__range]))"
    return panel(
        "piechart",
        "Sessions by terminal type",
        [
            prom(
                f'sort_desc(label_replace({starts}, "terminal_type", "unknown", "terminal_type", ""))',
                "{{terminal_type}}",
                instant=True,
            )
        ],
        "Sessions started (session.count) over the time range per terminal.type: vscode, iTerm.app, tmux, "
        "non-interactive (claude -p), …; `unknown` when the client did not say.",
    )
