"""Alerts and recording rules: Prometheus rules.yml and the promtool tests that prove them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from generator.vocabulary import (
    API_EVENTS,
    COST,
    DECISIONS,
    EDIT_TOOLS,
    LINES,
    OTLP_DURATION,
    OTLP_ITEMS,
    QUEUE_AGE,
    QUEUE_CAPACITY,
    QUEUE_ITEMS,
    TOKENS,
    t,
)

# --- alerts and recording rules -------------------------------------------------------------------------------

RECORDING_RULES: list[tuple[str, str]] = [
    ("cc_analytics:spend_usd:rate5m", f"sum by (organization_id, model) (rate({COST}[5m]))"),
    ("cc_analytics:tokens:rate5m", f"sum by (organization_id, model, type) (rate({TOKENS}[5m]))"),
    ("cc_analytics:accepted_lines:rate5m", f'sum by (organization_id) (rate({LINES}{{type="added"}}[5m]))'),
    ("cc_analytics:spend_usd:increase1h", f"sum by (organization_id) (increase({COST}[1h]))"),
    (
        "cc_analytics:edit_decisions:increase1d",
        f'sum by (organization_id) (increase({DECISIONS}{{tool_name=~"{EDIT_TOOLS}"}}[1d]))',
    ),
    (
        "cc_analytics:edit_accepts:increase1d",
        f'sum by (organization_id) (increase({DECISIONS}{{tool_name=~"{EDIT_TOOLS}", decision="accept"}}[1d]))',
    ),
    (
        "cc_analytics:edit_decisions:increase7d",
        f'sum by (organization_id) (increase({DECISIONS}{{tool_name=~"{EDIT_TOOLS}"}}[7d]))',
    ),
    (
        "cc_analytics:edit_accepts:increase7d",
        f'sum by (organization_id) (increase({DECISIONS}{{tool_name=~"{EDIT_TOOLS}", decision="accept"}}[7d]))',
    ),
    (
        "cc_analytics:edit_acceptance_ratio:1d",
        "cc_analytics:edit_accepts:increase1d / cc_analytics:edit_decisions:increase1d",
    ),
    (
        "cc_analytics:edit_acceptance_ratio:7d",
        "cc_analytics:edit_accepts:increase7d / cc_analytics:edit_decisions:increase7d",
    ),
    (
        "cc_analytics:api_error_ratio:15m",
        f'sum by (organization_id) (increase({API_EVENTS}{{event_name="api_error"}}[15m]))\n'
        f'/\nsum by (organization_id) (increase({API_EVENTS}{{event_name=~"api_request|api_error"}}[15m]))',
    ),
    ("cc_analytics:otlp_items:rate5m", f"sum by (job, instance, signal, outcome) (rate({OTLP_ITEMS}[5m]))"),
    (
        "cc_analytics:otlp_request_duration_seconds:p95_5m",
        f"histogram_quantile(0.95, sum by (job, instance, le) (rate({OTLP_DURATION}_bucket[5m])))",
    ),
]


@dataclass(frozen=True)
class Alert:
    name: str
    value: str  # the figure compared with the threshold; may use recorded series
    op: str  # ">" or "<"
    threshold_key: str | None
    threshold: Any
    guard: str  # extra condition, joined with `and`; "" for none
    for_: str
    severity: str
    summary: str
    description: str
    action: str
    group: str
    # promtool scenarios: (input_series, eval_time) firing and not firing
    firing: tuple[list[dict[str, str]], str] = field(default=([], "0m"))
    quiet: tuple[list[dict[str, str]], str] = field(default=([], "0m"))
    labels: dict[str, str] = field(default_factory=dict)  # expected labels of the firing alert (besides severity)
    grafana_sql: str = ""  # when set, Grafana's copy of the alert reads ClickHouse with this query instead
    # step of the scenarios' input series and of the rule evaluation (promtool caps a query at 10 000 samples,
    # so week-long scenarios use 10 minutes)
    step: str = "1m"

    def expr(self) -> str:
        core = f"{paren(self.value)} {'==' if self.op == '==' else self.op} {self.threshold}"
        return f"{core}\nand\n{paren(self.guard)}" if self.guard else core


def paren(expr: str) -> str:
    expr = expr.strip()
    return f"({expr})" if ("\n" in expr or " " in expr) and not re.fullmatch(r"[\w:]+\{[^}]*\}", expr) else expr


def series(name: str, values: str) -> dict[str, str]:
    return {"series": name, "values": values}


def minutes(n: int) -> str:
    return f"{n}m"


def _alerts() -> list[Alert]:
    job = t("collector_job")
    spend_day = t("spend_today_usd")
    factor = t("spend_hour_factor")
    min_usd = t("spend_hour_min_usd")
    drop = t("acceptance_drop")
    min_dec = t("acceptance_min_decisions")
    err = t("api_error_ratio")
    min_req = t("api_min_requests")
    rej = t("ingest_rejected_ratio")
    fill = t("queue_fill_ratio")
    age = t("queue_age_seconds")
    org = 'organization_id="org-acme"'
    week = 7 * 144  # 10-minute steps
    return [
        Alert(
            "ClaudeCodeSpendTodayHigh",
            'sum(cc_analytics_spend_usd{window="1d"})',
            ">",
            "spend_today_usd",
            spend_day,
            "",
            "5m",
            "warning",
            "Claude Code spend today is above the daily budget",
            f"More than {spend_day} USD spent since 00:00 UTC (all organizations).",
            "Open the Spend panel and the team table to see who and which model; raise spend_today_usd in "
            "dashboards/generator/vocabulary.py if the budget changed.",
            "claude-code",
            firing=([series('cc_analytics_spend_usd{window="1d"}', f"{spend_day * 0.5}+{spend_day * 0.1}x20")], "15m"),
            quiet=([series('cc_analytics_spend_usd{window="1d"}', f"{spend_day * 0.5}x20")], "15m"),
        ),
        Alert(
            "ClaudeCodeSpendSpike",
            "cc_analytics:spend_usd:increase1h\n/\navg_over_time(cc_analytics:spend_usd:increase1h[7d])",
            ">",
            "spend_hour_factor",
            factor,
            f"cc_analytics:spend_usd:increase1h > {min_usd}",
            "15m",
            "warning",
            "Claude Code spend in {{ $labels.organization_id }} is several times its usual hourly rate",
            f"The last hour's spend is more than {factor} times the hourly mean of the last 7 days "
            f"(and above {min_usd} USD).",
            "Check Cost by model and Spend per member for a runaway agent or a new heavy user; stop the session "
            "or revoke its ingest token if it is not expected.",
            "claude-code",
            # 8 days at 0.5 USD per 10 min (3 USD/h), then 5 USD per 10 min (30 USD/h) for the last 2 hours.
            firing=([series(f"{COST}{{{org}}}", f"0+0.5x{8 * 144} {8 * 144 * 0.5 + 5}+5x12")], minutes(8 * 1440 + 120)),
            quiet=([series(f"{COST}{{{org}}}", f"0+0.5x{8 * 144 + 12}")], minutes(8 * 1440 + 120)),
            labels={"organization_id": "org-acme"},
            step="10m",
        ),
        Alert(
            "ClaudeCodeAcceptanceRateDropping",
            "cc_analytics:edit_acceptance_ratio:7d - cc_analytics:edit_acceptance_ratio:1d",
            ">",
            "acceptance_drop",
            drop,
            f"cc_analytics:edit_decisions:increase1d >= {min_dec}",
            "1h",
            "info",
            "Claude Code proposal acceptance in {{ $labels.organization_id }} is dropping",
            f"Today's acceptance ratio of code edits is more than {drop * 100:g} points below the 7-day ratio.",
            "Look at Acceptance rate by tool: a new model, a changed permission mode or a misbehaving tool "
            "usually explains it.",
            "claude-code",
            # 7 days at 9 accepts / 1 reject per 10 minutes, then 1 day at 4 / 6.
            firing=(
                [
                    series(
                        f'{DECISIONS}{{{org}, tool_name="Edit", decision="accept"}}', f"0+9x{week} {week * 9 + 4}+4x144"
                    ),
                    series(
                        f'{DECISIONS}{{{org}, tool_name="Edit", decision="reject"}}', f"0+1x{week} {week + 6}+6x144"
                    ),
                ],
                minutes(10 * (week + 144)),
            ),
            quiet=(
                [
                    series(f'{DECISIONS}{{{org}, tool_name="Edit", decision="accept"}}', f"0+9x{week + 144}"),
                    series(f'{DECISIONS}{{{org}, tool_name="Edit", decision="reject"}}', f"0+1x{week + 144}"),
                ],
                minutes(10 * (week + 144)),
            ),
            labels={"organization_id": "org-acme"},
            step="10m",
        ),
        Alert(
            "ClaudeCodeApiErrorRatioHigh",
            "cc_analytics:api_error_ratio:15m",
            ">",
            "api_error_ratio",
            err,
            f'sum by (organization_id) (increase({API_EVENTS}{{event_name=~"api_request|api_error"}}[15m])) '
            f">= {min_req}",
            "10m",
            "warning",
            "Claude Code API calls in {{ $labels.organization_id }} are failing",
            f"More than {err * 100:g} % of API calls ended in api_error over 15 minutes.",
            "Check the API errors panel (status codes in the events), the provider's status page, rate limits "
            "and proxy settings of the clients.",
            "claude-code",
            firing=(
                [
                    series(f'{API_EVENTS}{{{org}, event_name="api_request"}}', "0+10x60"),
                    series(f'{API_EVENTS}{{{org}, event_name="api_error"}}', "0+2x60"),
                ],
                "40m",
            ),
            quiet=(
                [
                    series(f'{API_EVENTS}{{{org}, event_name="api_request"}}', "0+10x60"),
                    series(f'{API_EVENTS}{{{org}, event_name="api_error"}}', "0+0x60"),
                ],
                "40m",
            ),
            labels={"organization_id": "org-acme"},
            grafana_sql=f"""
SELECT $__toTime AS time,
       toString(organization_id) AS organization_id,
       countIf(event_name = 'api_error') / count() AS api_error_ratio
FROM events
WHERE $__timeFilter(events.time)
  AND event_name IN ('api_request', 'api_error')
GROUP BY organization_id
HAVING count() >= {min_req}""",
        ),
        Alert(
            "ClaudeCodeCollectorDown",
            f'up{{job="{job}"}}',
            "==",
            None,
            0,
            "",
            t("collector_down_for"),
            "critical",
            "The claude-code-analytics collector {{ $labels.instance }} is down",
            "Prometheus cannot scrape the collector's /metrics: OTLP exports from Claude Code are probably "
            "failing too (clients retry for a while, then drop).",
            "Check the process (systemctl status / container logs), /healthz and /readyz on the API port, "
            "disk space of the data directory.",
            "collector",
            firing=([series(f'up{{job="{job}", instance="collector:9464"}}', "1x5 0x20")], "20m"),
            quiet=([series(f'up{{job="{job}", instance="collector:9464"}}', "1x5 0x2 1x20")], "20m"),
            labels={"job": job, "instance": "collector:9464"},
        ),
        Alert(
            "CollectorIngestRejections",
            f'sum by (job, instance) (rate({OTLP_ITEMS}{{outcome="rejected"}}[5m]))\n'
            f'/\nsum by (job, instance) (rate({OTLP_ITEMS}{{outcome=~"accepted|rejected"}}[5m]))',
            ">",
            "ingest_rejected_ratio",
            rej,
            "",
            "10m",
            "warning",
            "The collector {{ $labels.instance }} rejects telemetry",
            f"More than {rej * 100:g} % of received points and records were rejected over 5 minutes.",
            "See Items by outcome and the collector's log (reason of each rejection): wrong ingest tokens, "
            "payloads over limits.max_request_bytes, or a full write queue (429 / RESOURCE_EXHAUSTED).",
            "collector",
            firing=(
                [
                    series(
                        f'{OTLP_ITEMS}{{job="{job}", instance="c:9464", protocol="grpc", signal="metrics", outcome="accepted"}}',
                        "0+100x40",
                    ),
                    series(
                        f'{OTLP_ITEMS}{{job="{job}", instance="c:9464", protocol="grpc", signal="metrics", outcome="rejected"}}',
                        "0+10x40",
                    ),
                ],
                "30m",
            ),
            quiet=(
                [
                    series(
                        f'{OTLP_ITEMS}{{job="{job}", instance="c:9464", protocol="grpc", signal="metrics", outcome="accepted"}}',
                        "0+100x40",
                    ),
                    series(
                        f'{OTLP_ITEMS}{{job="{job}", instance="c:9464", protocol="grpc", signal="metrics", outcome="rejected"}}',
                        "0+0x40",
                    ),
                ],
                "30m",
            ),
            labels={"job": job, "instance": "c:9464"},
        ),
        Alert(
            "CollectorWriteQueueBackingUp",
            f"max by (job, instance) ({QUEUE_ITEMS} / {QUEUE_CAPACITY})",
            ">",
            "queue_fill_ratio",
            fill,
            "",
            "5m",
            "warning",
            "The collector {{ $labels.instance }} cannot keep up writing to ClickHouse",
            f"The write queue is more than {fill * 100:g} % full; when it is full senders get 429 / "
            "RESOURCE_EXHAUSTED.",
            "Check Store write latency and errors: a slow or unreachable ClickHouse, a full disk; raise "
            "limits.max_queued_items only if the store keeps up on average.",
            "collector",
            firing=(
                [
                    series(f'{QUEUE_ITEMS}{{job="{job}", instance="c:9464"}}', "1000x5 190000x20"),
                    series(f'{QUEUE_CAPACITY}{{job="{job}", instance="c:9464"}}', "200000x25"),
                ],
                "15m",
            ),
            quiet=(
                [
                    series(f'{QUEUE_ITEMS}{{job="{job}", instance="c:9464"}}', "1000x5 100000x20"),
                    series(f'{QUEUE_CAPACITY}{{job="{job}", instance="c:9464"}}', "200000x25"),
                ],
                "15m",
            ),
            labels={"job": job, "instance": "c:9464"},
        ),
        Alert(
            "CollectorWriteQueueStale",
            f"max by (job, instance) ({QUEUE_AGE})",
            ">",
            "queue_age_seconds",
            age,
            "",
            "5m",
            "warning",
            "The collector {{ $labels.instance }} has had data waiting to be written for minutes",
            f"The oldest queued batch is more than {age} s old: the writer is stuck or the store refuses inserts.",
            "Check Store write errors and the collector's log; restart the collector if the writer is stuck "
            "(acknowledged data is spooled and survives).",
            "collector",
            firing=([series(f'{QUEUE_AGE}{{job="{job}", instance="c:9464"}}', f"0x5 {age * 2}x20")], "15m"),
            quiet=([series(f'{QUEUE_AGE}{{job="{job}", instance="c:9464"}}', f"0x5 {age // 2}x20")], "15m"),
            labels={"job": job, "instance": "c:9464"},
        ),
    ]


ALERTS = _alerts()


def prometheus_rules() -> dict[str, Any]:
    return {
        "groups": [
            {
                "name": "claude-code-analytics.recording",
                "rules": [{"record": name, "expr": expr} for name, expr in RECORDING_RULES],
            },
            *[
                {
                    "name": f"claude-code-analytics.{group}",
                    "rules": [
                        {
                            "alert": alert.name,
                            "expr": alert.expr(),
                            "for": alert.for_,
                            "labels": {"severity": alert.severity},
                            "annotations": {
                                "summary": alert.summary,
                                "description": alert.description,
                                "action": alert.action,
                            },
                        }
                        for alert in ALERTS
                        if alert.group == group
                    ],
                }
                for group in ("claude-code", "collector")
            ],
        ]
    }


def promtool_tests(step: str) -> dict[str, Any]:
    tests = []
    for alert in (alert for alert in ALERTS if alert.step == step):
        for scenario, (inputs, at) in (("firing", alert.firing), ("quiet", alert.quiet)):
            expected = (
                [
                    {
                        "exp_labels": {"severity": alert.severity, **alert.labels},
                        "exp_annotations": {
                            "summary": render_labels(alert.summary, alert.labels),
                            "description": alert.description,
                            "action": alert.action,
                        },
                    }
                ]
                if scenario == "firing"
                else []
            )
            tests.append(
                {
                    "name": f"{alert.name} {scenario}",
                    "interval": alert.step,
                    "input_series": inputs,
                    "alert_rule_test": [{"eval_time": at, "alertname": alert.name, "exp_alerts": expected}],
                }
            )
    return {
        "rule_files": ["../rules.yml"],
        "evaluation_interval": step,
        "group_eval_order": group_eval_order(),
        "tests": tests,
    }


def group_eval_order() -> list[str]:
    """Recording groups before the alerts that read them. Without it promtool may evaluate an alert group
    first, at an evaluation time whose recorded samples do not exist yet (the previous ones are older than
    the 5 m lookback at a 10 m step), and the alert then sees nothing."""
    return [group["name"] for group in prometheus_rules()["groups"]]


def recording_tests() -> dict[str, Any]:
    """Recording rules evaluated on a small known series set."""
    org = 'organization_id="org-acme"'
    return {
        "rule_files": ["../rules.yml"],
        "evaluation_interval": "1m",
        "group_eval_order": group_eval_order(),
        "tests": [
            {
                "name": "recording rules",
                "interval": "1m",
                "input_series": [
                    series(f'{COST}{{{org}, model="claude-opus-4-6"}}', "0+0.5x120"),
                    series(f'{TOKENS}{{{org}, model="claude-opus-4-6", type="input"}}', "0+600x120"),
                    series(f'{LINES}{{{org}, type="added"}}', "0+6x120"),
                    series(f'{DECISIONS}{{{org}, tool_name="Write", decision="accept"}}', "0+3x120"),
                    series(f'{DECISIONS}{{{org}, tool_name="Edit", decision="reject"}}', "0+1x120"),
                    series(f'{DECISIONS}{{{org}, tool_name="Bash", decision="reject"}}', "0+5x120"),
                ],
                "promql_expr_test": [
                    {
                        "expr": "cc_analytics:spend_usd:rate5m",
                        "eval_time": "60m",
                        "exp_samples": [
                            {
                                "labels": f'cc_analytics:spend_usd:rate5m{{{org}, model="claude-opus-4-6"}}',
                                "value": 0.5 / 60,
                            }
                        ],
                    },
                    {
                        "expr": "cc_analytics:tokens:rate5m",
                        "eval_time": "60m",
                        "exp_samples": [
                            {
                                "labels": f'cc_analytics:tokens:rate5m{{{org}, model="claude-opus-4-6", type="input"}}',
                                "value": 10,
                            }
                        ],
                    },
                    {
                        "expr": "cc_analytics:accepted_lines:rate5m",
                        "eval_time": "60m",
                        "exp_samples": [{"labels": f"cc_analytics:accepted_lines:rate5m{{{org}}}", "value": 0.1}],
                    },
                    {
                        "expr": "cc_analytics:spend_usd:increase1h",
                        "eval_time": "100m",
                        "exp_samples": [{"labels": f"cc_analytics:spend_usd:increase1h{{{org}}}", "value": 30}],
                    },
                    # Bash is not a code-editing tool: 3 accepts / (3 + 1) decisions.
                    {
                        "expr": "cc_analytics:edit_acceptance_ratio:1d",
                        "eval_time": "100m",
                        "exp_samples": [{"labels": f"cc_analytics:edit_acceptance_ratio:1d{{{org}}}", "value": 0.75}],
                    },
                ],
            }
        ],
    }


def render_labels(template: str, labels: dict[str, str]) -> str:
    return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), template)


def inline_recorded(expr: str, step: str = "1m") -> str:
    """Replace recorded series by their definitions (for Grafana alerts and tests that run without the rules).

    `name[range]` becomes the subquery `(definition)[range:step]`. Recorded series are never used with label
    matchers, so a plain substitution is exact.
    """
    records = dict(RECORDING_RULES)
    pattern = re.compile(
        r"(?<![\w:])("
        + "|".join(re.escape(n) for n in sorted(records, key=len, reverse=True))
        + r")(\{[^}]*\})?(\[[^\]:]+\])?(?![\w:])"
    )

    def replace(match: re.Match[str]) -> str:
        name, matchers, window = match.groups()
        if matchers:
            raise ValueError(f"recorded series {name} used with matchers {matchers}: cannot inline")
        body = inline_recorded(records[name], step)
        return f"({body}){window[:-1]}:{step}]" if window else f"({body})"

    return pattern.sub(replace, expr)
