"""Alerts and recording rules: Prometheus rules.yml, the promtool tests that prove them, and what the runbook and
Grafana's copies are built from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from generator.promtool import MONDAY, at, counter, increments, minute_of, minutes, render, series, working
from generator.vocabulary import (
    API_EVENTS,
    COST,
    DEAD_LETTER_BATCHES,
    DECISIONS,
    DERIVED_REFRESH_ERRORS,
    DERIVED_REFRESH_TIMESTAMP,
    DURABLE_QUEUE_AGE,
    DURABLE_QUEUE_BYTES,
    DURABLE_QUEUE_CAPACITY,
    DURABLE_QUEUE_CORRUPT,
    DURABLE_QUEUE_DRAINED,
    EDIT_TOOLS,
    LINES,
    OTLP_DURATION,
    OTLP_ITEMS,
    OTLP_REQUESTS,
    QUEUE_AGE,
    QUEUE_CAPACITY,
    QUEUE_ITEMS,
    SERIES_DROPPED,
    SPEND_GAUGE,
    STORE_WRITE_ERRORS,
    TOKENS,
    family,
    sel,
    t,
)

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


# --- selectors ------------------------------------------------------------------------------------------------


def collector(metric: str, *matchers: str) -> str:
    """A metric the collector itself exposes, read only from its scrape job (job names differ per deployment,
    and another job could expose metrics of the same name)."""
    return sel(metric, f'job="{t("collector_job")}"', *matchers)


def promql_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


EDIT = f'tool_name=~"{EDIT_TOOLS}"'
INPUT_SIDE = 'type=~"input|cacheRead|cacheCreation"'
TOOL_RESULTS = collector(API_EVENTS, 'event_name="tool_result"')
API_CALLS = collector(API_EVENTS, 'event_name=~"api_request|api_error"')
API_ERRORS = collector(API_EVENTS, 'event_name="api_error"')
SPEND_TODAY = collector(SPEND_GAUGE, 'window="1d"')
REFUSED_BY_SENDERS = 'status=~"unauthenticated|bad_request|too_large|unsupported_media_type"'

# --- recording rules ------------------------------------------------------------------------------------------
# Names follow Prometheus' level:metric:operations convention.

SPEND_1H = "organization_id:claude_code_cost_usage_usd:increase1h"
SPEND_1D = "organization_id:claude_code_cost_usage_usd:increase1d"
API_ERROR_RATIO = "organization_id:claude_code_api_errors_per_calls:ratio_increase15m"
CACHE_SHARE_1H = "organization_id:claude_code_cache_read_tokens_per_input_tokens:ratio_increase1h"
CACHE_SHARE_7D = "organization_id:claude_code_cache_read_tokens_per_input_tokens:ratio_increase7d"
TOOL_RATE_1H = f"organization_id:{family(API_EVENTS)}_tool_result:rate1h"
TOOL_RATE_BUSY = f"organization_id:{family(API_EVENTS)}_tool_result:rate1h_p95_7d"
EDIT_DECISIONS_1D = "organization_id:claude_code_edit_tool_decisions:increase1d"
EDIT_ACCEPTS_1D = "organization_id:claude_code_edit_tool_accepts:increase1d"
EDIT_DECISIONS_7D = "organization_id:claude_code_edit_tool_decisions:increase7d"
EDIT_ACCEPTS_7D = "organization_id:claude_code_edit_tool_accepts:increase7d"
ACCEPTANCE_1D = "organization_id:claude_code_edit_tool_accepts_per_decisions:ratio_increase1d"
ACCEPTANCE_7D = "organization_id:claude_code_edit_tool_accepts_per_decisions:ratio_increase7d"
LATENCY_P95 = f"job_instance:{family(OTLP_DURATION)}:p95_rate5m"


def _cache_share(window: str) -> str:
    # Without any cache read in the window the share is 0, not absent: a collapse to nothing must still be seen.
    input_side = f"sum by (organization_id) (increase({TOKENS}{{{INPUT_SIDE}}}[{window}]))"
    return (
        f'(sum by (organization_id) (increase({TOKENS}{{type="cacheRead"}}[{window}])) or {input_side} * 0)\n'
        f"/\n{input_side}"
    )


RECORDING_RULES: list[tuple[str, str, str]] = [
    (
        "organization_id_model:claude_code_cost_usage_usd:rate5m",
        f"sum by (organization_id, model) (rate({COST}[5m]))",
        RECORDING,
    ),
    (
        "organization_id_model_type:claude_code_token_usage_tokens:rate5m",
        f"sum by (organization_id, model, type) (rate({TOKENS}[5m]))",
        RECORDING,
    ),
    (
        "organization_id:claude_code_lines_of_code_added:rate5m",
        f'sum by (organization_id) (rate({LINES}{{type="added"}}[5m]))',
        RECORDING,
    ),
    (SPEND_1H, f"sum by (organization_id) (increase({COST}[1h]))", RECORDING),
    (
        API_ERROR_RATIO,
        f"sum by (organization_id) (increase({API_ERRORS}[15m]))\n"
        f"/\nsum by (organization_id) (increase({API_CALLS}[15m]))",
        RECORDING,
    ),
    (CACHE_SHARE_1H, _cache_share("1h"), RECORDING),
    (TOOL_RATE_1H, f"sum by (organization_id) (rate({TOOL_RESULTS}[1h]))", RECORDING),
    (
        f"job_instance_signal_outcome:{family(OTLP_ITEMS)}:rate5m",
        f"sum by (job, instance, signal, outcome) (rate({collector(OTLP_ITEMS)}[5m]))",
        RECORDING,
    ),
    (
        LATENCY_P95,
        f"histogram_quantile(0.95, sum by (job, instance, le) (rate({collector(OTLP_DURATION + '_bucket')}[5m])))",
        RECORDING,
    ),
    (SPEND_1D, f"sum by (organization_id) (increase({COST}[1d]))", DAILY),
    (EDIT_DECISIONS_1D, f"sum by (organization_id) (increase({DECISIONS}{{{EDIT}}}[1d]))", DAILY),
    (EDIT_ACCEPTS_1D, f'sum by (organization_id) (increase({DECISIONS}{{{EDIT}, decision="accept"}}[1d]))', DAILY),
    (EDIT_DECISIONS_7D, f"sum by (organization_id) (increase({DECISIONS}{{{EDIT}}}[7d]))", DAILY),
    (EDIT_ACCEPTS_7D, f'sum by (organization_id) (increase({DECISIONS}{{{EDIT}, decision="accept"}}[7d]))', DAILY),
    (ACCEPTANCE_1D, f"{EDIT_ACCEPTS_1D} / {EDIT_DECISIONS_1D}", DAILY),
    (ACCEPTANCE_7D, f"{EDIT_ACCEPTS_7D} / {EDIT_DECISIONS_7D}", DAILY),
    (CACHE_SHARE_7D, _cache_share("7d"), DAILY),
    # The busy-hour level of the week: with work on 40 of 168 hours, the 95th percentile is a working hour.
    (TOOL_RATE_BUSY, f"quantile_over_time(0.95, {TOOL_RATE_1H}[7d])", DAILY),
]

# --- alerts ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """A promtool case: input series at the alert's step, and the eval times at which it is checked."""

    name: str
    inputs: list[dict[str, str]]
    at: tuple[str, ...]
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


# --- scenario helpers -----------------------------------------------------------------------------------------

ORG = 'organization_id="org-acme"'
JOB = t("collector_job")
C1 = f'job="{JOB}", instance="c1:9464"'
C2 = f'job="{JOB}", instance="c2:9464"'
C1_LABELS = {"job": JOB, "instance": "c1:9464"}  # of an alert firing for the collector C1
ORG_LABELS = {"organization_id": "org-acme"}  # of an alert firing for the organization ORG


def weekly(per_step: float, until: int, change: tuple[int, float] | None = None, step: int = 10) -> str:
    """A counter of a team that works the working hours of THRESHOLDS on working days and rests otherwise:
    `per_step` in each working step of `step` minutes, from the epoch to the minute `until`; `change` =
    (minute, per_step) makes working steps from that minute on add another amount."""
    hours, days_of_week = t("working_hours_utc"), t("working_days")

    def add(minute: int) -> float:
        if not working(minute, hours, days_of_week):
            return 0.0
        return change[1] if change is not None and minute >= change[0] else per_step

    return counter(increments(until // step, step, add))


# --- the alerts -----------------------------------------------------------------------------------------------


def _spend_alerts() -> list[Alert]:
    budget = t("spend_today_usd")
    org_budget = t("organization_spend_24h_usd")
    factor = t("spend_hour_factor")
    floor = t("spend_hour_floor_usd")
    gauge = f'{SPEND_GAUGE}{{{C1}, window="1d"}}'
    gauge_2 = f'{SPEND_GAUGE}{{{C2}, window="1d"}}'
    monday = 2 * 7 + MONDAY  # the third Monday of the scenarios: two weeks of history behind it
    until = minute_of(monday, 17)
    spike = (minute_of(monday, 9), 5)
    return [
        Alert(
            name="ClaudeCodeSpendTodayHigh",
            group=CLAUDE_CODE,
            # Every replica reads the same figure from the shared store: one value, never a sum.
            value=f"max without (instance, pod) ({SPEND_TODAY})",
            op=">",
            threshold=budget,
            for_="5m",
            severity="warning",
            summary="Claude Code spend today is above the daily budget",
            description=f"{{{{ $value | humanize }}}} USD spent since 00:00 UTC (all organizations); the budget "
            f"is {budget} USD.",
            meaning=f"More than {budget} USD spent since 00:00 UTC, all organizations together (the derived gauge "
            f'`{SPEND_GAUGE}{{window="1d"}}`, read from the store, so the same on every replica).',
            check="Spend and Cost by model on the dashboard; `GET /api/v1/team?month=…` lists spend per member; "
            "ClaudeCodeOrganizationSpendHigh names the organization if one stands out.",
            action="Find who and which model (team table, Cost by model); raise spend_today_usd in "
            "dashboards/generator/vocabulary.py if the budget changed.",
            firing=Scenario(
                "two replicas expose the same rising figure",
                [series(gauge, "100+10x30"), series(gauge_2, "100+10x30")],
                ("20m",),
                value=300,
            ),
            quiet=(
                Scenario(
                    "two replicas below the budget: their sum is above it, but they are one figure",
                    [series(gauge, f"{budget * 0.75:g}x30"), series(gauge_2, f"{budget * 0.75:g}x30")],
                    ("20m",),
                ),
            ),
            labels={"job": JOB, "window": "1d"},
        ),
        Alert(
            name="ClaudeCodeOrganizationSpendHigh",
            group=DAILY,
            value=SPEND_1D,
            op=">",
            threshold=org_budget,
            for_="15m",
            severity="warning",
            summary="Claude Code spend of {{ $labels.organization_id }} over 24 hours is above its budget",
            description=f"{{{{ $labels.organization_id }}}} spent {{{{ $value | humanize }}}} USD over the last "
            f"24 hours; the threshold is {org_budget} USD.",
            meaning=f"One organization spent more than {org_budget} USD over the last 24 hours (Σ "
            "`claude_code_cost_usage_USD_total` of all replicas).",
            check="Cost by model and Spend and lines by member with the Organization variable set to it; "
            "`GET /api/v1/team?org=…` for the members.",
            action="Ask the organization's owner whether the spend is expected; revoke or rotate its ingest token "
            "for a runaway client; raise organization_spend_24h_usd if its budget is higher.",
            firing=Scenario(
                "org-acme over two replicas (72 USD each a day), org-beta on one (72 USD)",
                [
                    series(f'{COST}{{{C1}, {ORG}, model="claude-opus-4-6"}}', "0+0.5x180"),
                    series(f'{COST}{{{C2}, {ORG}, model="claude-opus-4-6"}}', "0+0.5x180"),
                    series(f'{COST}{{{C1}, organization_id="org-beta", model="claude-opus-4-6"}}', "0+0.5x180"),
                ],
                (minutes(30 * 60),),
                value=144,
            ),
            quiet=(
                Scenario(
                    "72 USD a day",
                    [series(f'{COST}{{{C1}, {ORG}, model="claude-opus-4-6"}}', "0+0.5x180")],
                    (minutes(30 * 60),),
                ),
            ),
            labels=ORG_LABELS,
            step="10m",
        ),
        Alert(
            name="ClaudeCodeSpendSpike",
            group=CLAUDE_CODE,
            # The same hour a week earlier, so working hours compare with working hours and a Monday morning with
            # last Monday's; the floor keeps a quiet hour then from making any spend a spike.
            value=f"{SPEND_1H}\n/\nclamp_min({SPEND_1H} offset 1w or {SPEND_1H} * 0, {floor})",
            op=">",
            threshold=factor,
            for_="15m",
            severity="ticket",
            summary="Claude Code spend in {{ $labels.organization_id }} is several times that of the same hour "
            "last week",
            description=f"The last hour's spend is {{{{ $value | humanize }}}} times that of the same hour a week "
            f"earlier (counted as at least {floor} USD); the threshold is {factor}.",
            meaning=f"An organization's spend over the last hour is more than {factor} times its spend in the same "
            f"hour one week earlier, that hour counted as at least {floor} USD (so at least "
            f"{factor * floor} USD in an hour).",
            check="Cost by model and Spend and lines by member for the hour; compare with the same weekday last "
            "week (a holiday then makes this week look high).",
            action="Look for a runaway agent or a new heavy user; stop the session or revoke its ingest token if it "
            "is not expected. A ticket: nobody needs to be woken for it.",
            firing=Scenario(
                "a 5x spike on the third Monday morning",
                [series(f"{COST}{{{ORG}}}", weekly(1, until, spike))],
                (at(monday, 10, 30),),
                value=5,
            ),
            quiet=(
                Scenario(
                    "two weeks of 09-17 weekdays: Monday morning is like last Monday",
                    [series(f"{COST}{{{ORG}}}", weekly(1, until))],
                    (at(monday, 9, 30), at(monday, 10, 30), at(monday, 16, 30)),
                ),
            ),
            labels=ORG_LABELS,
            step="10m",
        ),
    ]


def _usage_alerts() -> list[Alert]:
    drop = t("acceptance_drop")
    min_dec = t("acceptance_min_decisions")
    err = t("api_error_ratio")
    min_req = t("api_min_requests")
    allowed = t("allowed_models")
    week = 7 * 144  # 10-minute steps
    accept = f'{DECISIONS}{{{ORG}, tool_name="Edit", decision="accept"}}'
    reject = f'{DECISIONS}{{{ORG}, tool_name="Edit", decision="reject"}}'
    requests = f'{API_EVENTS}{{{C1}, {ORG}, event_name="api_request"}}'
    errors = f'{API_EVENTS}{{{C1}, {ORG}, event_name="api_error"}}'
    return [
        Alert(
            name="ClaudeCodeAcceptanceRateDropping",
            group=DAILY,
            value=f"{ACCEPTANCE_7D} - {ACCEPTANCE_1D}",
            op=">",
            threshold=drop,
            guard=f"{EDIT_DECISIONS_1D} >= {min_dec}",
            for_="1h",
            severity="info",
            summary="Claude Code proposal acceptance in {{ $labels.organization_id }} is dropping",
            description="The 7-day acceptance ratio of code edits minus today's is "
            f"{{{{ $value | humanizePercentage }}}}; the threshold is {drop * 100:g} percentage points.",
            meaning=f"An organization's acceptance ratio of code-edit proposals (Edit, MultiEdit, Write, "
            f"NotebookEdit) over the last 24 hours is more than {drop * 100:g} points below its 7-day ratio, "
            f"with at least {min_dec} decisions in the 24 hours.",
            check="Acceptance rate by tool and Acceptance rate by interval: which tool, since when; a new model "
            "in Cost by model at the same time.",
            action="Look at Acceptance rate by tool: a new model, a changed permission mode or a misbehaving tool "
            "usually explains it.",
            firing=Scenario(
                "7 days at 9 accepts / 1 reject per 10 minutes, then a day at 4 / 6",
                [
                    series(accept, f"0+9x{week} {week * 9 + 4}+4x144"),
                    series(reject, f"0+1x{week} {week + 6}+6x144"),
                ],
                (minutes(10 * (week + 144)),),
                # 7-day ratio minus 1-day ratio, each accepts / decisions over its window
                value=(6 * 9 * 144 + 4 * 144) / (10 * 1008) - 4 / 10,
            ),
            quiet=(
                Scenario(
                    "8 days at 9 accepts / 1 reject",
                    [series(accept, f"0+9x{week + 144}"), series(reject, f"0+1x{week + 144}")],
                    (minutes(10 * (week + 144)),),
                ),
            ),
            labels=ORG_LABELS,
            step="10m",
        ),
        Alert(
            name="ClaudeCodeApiErrorRatioHigh",
            group=CLAUDE_CODE,
            value=API_ERROR_RATIO,
            op=">",
            threshold=err,
            guard=f"sum by (organization_id) (increase({API_CALLS}[15m])) >= {min_req}",
            for_="10m",
            severity="warning",
            summary="Claude Code API calls in {{ $labels.organization_id }} are failing",
            description=f"{{{{ $value | humanizePercentage }}}} of API calls ended in api_error over 15 minutes; "
            f"the threshold is {err * 100:g} %.",
            meaning=f"More than {err * 100:g} % of an organization's Claude Code API calls ended in `api_error` "
            f"over 15 minutes, with at least {min_req} calls (`{API_EVENTS}`, the events the "
            "collector counted by name).",
            check="API requests and errors, API error ratio and API errors by status class (429: rate limits, "
            "5xx: the provider); with ClickHouse, Recent API errors on the Claude Code Analytics dashboard.",
            action="Check the provider's status page, rate limits and proxy settings of the clients.",
            firing=Scenario(
                "10 calls and 2 errors a minute",
                [series(requests, "0+10x60"), series(errors, "0+2x60")],
                ("40m",),
                value=2 / 12,
            ),
            quiet=(
                Scenario(
                    "no errors",
                    [series(requests, "0+10x60"), series(errors, "0x60")],
                    ("40m",),
                ),
                Scenario(
                    "half the calls fail, but there are too few calls to tell",
                    [series(requests, "0+0.5x60"), series(errors, "0+0.5x60")],
                    ("40m",),
                ),
            ),
            labels=ORG_LABELS,
        ),
        Alert(
            name="ClaudeCodeModelNotAllowed",
            group=CLAUDE_CODE,
            value=f"sum by (organization_id, model) (increase({COST}{{model!~{promql_string(allowed)}, "
            'model!="", model!="other"}[1h]))',
            op=">",
            threshold=0,
            for_="5m",
            severity="ticket",
            summary="Claude Code in {{ $labels.organization_id }} uses {{ $labels.model }}, which is not allowed",
            description=f"{{{{ $value | humanize }}}} USD spent on {{{{ $labels.model }}}} in the last hour; "
            f"allowed models match `{allowed}`.",
            meaning=f"Spend on a model whose id does not match allowed_models (`{allowed}`) in the last hour. "
            "`other` (the series cap's overflow) is not a model and never fires it.",
            check="Cost by model and Tokens by type and model with the Model variable set to it; the members in "
            "Spend and lines by member.",
            action="Tell the users (Claude Code's managed settings can set the model); widen allowed_models if the "
            "model is approved.",
            firing=Scenario(
                "a model outside the list",
                [series(f'{COST}{{{ORG}, model="llama-3-70b"}}', "0x10 0.25+0.25x30")],
                ("30m",),
                value=5,
            ),
            quiet=(
                Scenario(
                    "allowed models and the overflow series",
                    [
                        series(f'{COST}{{{ORG}, model="claude-opus-4-6"}}', "0+0.25x40"),
                        series(f'{COST}{{organization_id="other", model="other"}}', "0+0.25x40"),
                    ],
                    ("30m",),
                ),
            ),
            labels={"organization_id": "org-acme", "model": "llama-3-70b"},
        ),
        _cache_alert(),
        _tool_loop_alert(),
    ]


def _cache_alert() -> Alert:
    factor = t("cache_read_share_factor")
    minimum = t("cache_min_tokens_1h")
    monday = 7 + MONDAY  # the second Monday: a full week of history behind it
    collapse = minute_of(monday, 9)
    # 200 000 input-side tokens per working step (1.2 M an hour), 90 % of them cache reads; from Monday 09:00
    # cache reads fall to 10 %.
    normal, low = 180_000, 20_000

    def tokens(kind: str, per_step: int, collapsed: int | None, scale: int = 1) -> dict[str, str]:
        change = (collapse, collapsed // scale) if collapsed is not None else None
        values = weekly(per_step // scale, minute_of(monday, 17), change)
        return series(f'{TOKENS}{{{ORG}, model="claude-opus-4-6", type="{kind}"}}', values)

    def collapsing(scale: int) -> list[dict[str, str]]:
        return [tokens("cacheRead", normal, low, scale), tokens("input", low, normal, scale)]

    # 7-day window at Monday 10:30: 231 normal working steps and 9 collapsed ones (09:10 … 10:30).
    share_7d = (231 * normal + 9 * low) / (240 * (normal + low))
    return Alert(
        name="ClaudeCodeCacheHitCollapse",
        group=DAILY,
        value=f"{CACHE_SHARE_1H}\n/\n{CACHE_SHARE_7D}",
        op="<",
        threshold=factor,
        guard=f"sum by (organization_id) (increase({TOKENS}{{{INPUT_SIDE}}}[1h])) >= {minimum}",
        for_="30m",
        severity="ticket",
        summary="Prompt caching in {{ $labels.organization_id }} has collapsed",
        description="The last hour's share of input tokens read from the prompt cache is "
        f"{{{{ $value | humanizePercentage }}}} of its 7-day share; the threshold is {factor * 100:g} %.",
        meaning=f"An organization's share of input-side tokens (input + cacheRead + cacheCreation) read from the "
        f"prompt cache over the last hour is below {factor * 100:g} % of that share over 7 days, with at least "
        f"{minimum:,} input-side tokens in the hour. Uncached input costs about ten times a cache read.",
        check="Cache read ratio and Tokens by type and model: which model; a model switch, a new Claude Code "
        "version, or a proxy that changes prompts each request break the cache.",
        action="Find what changed (model, Claude Code version, gateway, system prompt or MCP tools that vary per "
        "request); a brief drop after a model switch heals by itself.",
        firing=Scenario(
            "cache reads fall from 90 % to 10 % of input tokens on Monday morning",
            collapsing(1),
            (at(monday, 10, 30),),
            value=(6 * low / (6 * (normal + low))) / share_7d,
        ),
        quiet=(
            Scenario(
                "a steady week of 09-17 weekdays",
                [
                    tokens("cacheRead", normal, None),
                    tokens("input", low, None),
                ],
                (at(monday, 9, 30), at(monday, 10, 30), at(monday, 16, 30)),
            ),
            Scenario("the same collapse with a tenth of the tokens", collapsing(10), (at(monday, 10, 30),)),
        ),
        labels=ORG_LABELS,
        step="10m",
    )


def _tool_loop_alert() -> Alert:
    factor = t("tool_loop_factor")
    minimum = t("tool_loop_min_calls")
    monday = 7 + MONDAY
    loop = minute_of(monday, 9)
    results = f'{API_EVENTS}{{{C1}, {ORG}, event_name="tool_result", tool_name="Bash", success="true"}}'
    # 300 tool calls per working step (0.5 a second); from Monday 09:00 a loop takes it to 3 000 (5 a second).
    normal, looping = 300, 3000
    return Alert(
        name="ClaudeCodeToolLoop",
        group=DAILY,
        value=f"sum by (organization_id) (rate({TOOL_RESULTS}[15m]))\n/\n{TOOL_RATE_BUSY}",
        op=">",
        threshold=factor,
        guard=f"sum by (organization_id) (increase({TOOL_RESULTS}[15m])) >= {minimum}",
        for_="15m",
        severity="warning",
        summary="Claude Code in {{ $labels.organization_id }} calls tools far more than usual",
        description="Tool calls of the last 15 minutes run at {{ $value | humanize }} times the busy-hour level of "
        f"the last 7 days; the threshold is {factor}.",
        meaning=f"An organization's tool calls (`tool_result` events) over the last 15 minutes run at more than "
        f"{factor} times its busy-hour level (95th percentile of the hourly rate over 7 days), with at least "
        f"{minimum} calls in the 15 minutes. Telemetry has no session label, so this sees loops large against the "
        "organization's whole traffic.",
        check="Tool calls by tool and Tool success rate: which tool, failing or not; with ClickHouse, the "
        "`events` table names the members and sessions with most `tool_result` in the last 15 minutes.",
        action="Stop the looping session (often a headless `claude -p` run by a script or CI) or revoke its "
        "ingest token; fix the prompt, hook or MCP server that keeps failing.",
        firing=Scenario(
            "a loop from Monday 09:00, ten times the usual calls",
            [series(results, weekly(normal, minute_of(monday, 17), (loop, looping)))],
            (at(monday, 10, 30),),
            value=10,
        ),
        quiet=(
            Scenario(
                "a steady week of 09-17 weekdays at 0.5 calls a second",
                [series(results, weekly(normal, minute_of(monday, 17)))],
                (at(monday, 9, 30), at(monday, 10, 30), at(monday, 16, 30)),
            ),
        ),
        labels=ORG_LABELS,
        step="10m",
    )


def _availability_alerts() -> list[Alert]:
    up = collector("up")
    first, end = t("working_hours_utc")
    first_day, last_day = t("working_days")
    hours = t("no_client_data_hours")
    accepted = collector(OTLP_REQUESTS, 'status=~"ok|partial"')
    ok = f'{OTLP_REQUESTS}{{{C1}, protocol="http", signal="metrics", status="ok"}}'
    up_series = f"up{{{C1}}}"
    thursday = 0  # the epoch
    saturday, sunday = 2, 3
    monday = MONDAY
    quiet_until = minute_of(monday + 1, 0)
    return [
        Alert(
            name="ClaudeCodeCollectorDown",
            group=COLLECTOR,
            value=up,
            op="==",
            threshold=0,
            for_=t("collector_down_for"),
            severity="critical",
            summary="The claude-code-analytics collector {{ $labels.instance }} is down",
            description="Prometheus cannot scrape {{ $labels.instance }}/metrics (up = {{ $value | humanize }}): "
            "OTLP exports from Claude Code are probably failing too.",
            meaning="Prometheus cannot scrape a collector's /metrics: OTLP exports from Claude Code are probably "
            "failing too (clients retry for a while, then drop).",
            check="Collector up on the Collector health dashboard; Prometheus' Targets page for the scrape error; "
            "`/healthz` and `/readyz` on the API port.",
            action="Check the process (systemctl status / container logs), /healthz and /readyz on the API port, "
            "disk space of the data directory.",
            firing=Scenario("the scrape fails from minute 6", [series(up_series, "1x5 0x20")], ("20m",), value=0),
            quiet=(Scenario("one failed scrape", [series(up_series, "1x5 0x2 1x20")], ("20m",)),),
            labels=C1_LABELS,
        ),
        Alert(
            name="CollectorScrapeTargetMissing",
            group=COLLECTOR,
            value=f"absent({up})",
            op="==",
            threshold=1,
            for_="10m",
            severity="critical",
            summary=f"Prometheus has no scrape target of job {JOB}",
            description=f"No `up` series of job {JOB} (absent = {{{{ $value | humanize }}}}): every collector "
            "alert is blind.",
            meaning=f"Prometheus has no target at all in job `{JOB}`: service discovery lost the collector, or the "
            "scrape config's job name differs from collector_job, and every other collector alert is blind.",
            check="Prometheus' Targets and Service discovery pages; `count by (job) (up)` for the job names it has; "
            "on Kubernetes the ServiceMonitor's selector and the Service's labels.",
            action="Fix the scrape config or the ServiceMonitor, or set collector_job to the job name Prometheus "
            "uses and regenerate the rules.",
            firing=Scenario(
                "only another job is scraped", [series('up{job="node", instance="n:9100"}', "1x20")], ("15m",), 1
            ),
            quiet=(
                Scenario("the collector is scraped", [series(up_series, "1x20")], ("15m",)),
                Scenario(
                    "the collector is scraped but down (ClaudeCodeCollectorDown's case)",
                    [series(up_series, "0x20")],
                    ("15m",),
                ),
            ),
            labels={"job": JOB},
        ),
        Alert(
            name="CollectorNoClientData",
            group=COLLECTOR,
            # Where no requests series exists at all (nothing ever accepted), read 0 rather than nothing.
            value=f"sum by (job) (increase({accepted}[{hours}h]))\nor\nmax by (job) ({up}) * 0",
            op="==",
            threshold=0,
            guard=f"max by (job) ({up}) == 1\nand on ()\n"
            f"(hour() >= {first + hours} and hour() < {end} and day_of_week() >= {first_day} "
            f"and day_of_week() <= {last_day})",
            for_="10m",
            severity="warning",
            summary=f"No Claude Code client has sent data to job {JOB} for {hours}h of the working day",
            description=f"{{{{ $value | humanize }}}} OTLP requests accepted in the last {hours}h, during working "
            "hours: clients are not exporting, or cannot reach the collector.",
            meaning=f"The collector is up but accepted no OTLP request (status ok or partial) in the last "
            f"{hours} h, checked on working days (day_of_week() {first_day}–{last_day}) from {first + hours}:00 to "
            f"{end}:00 UTC (the working day {first}:00–{end}:00 less its first {hours} h): no client reaches it, "
            "or every request is refused.",
            check="OTLP requests by status (refusals point at CollectorIngestMisconfiguredSenders or Overloaded); "
            "on a client, `CLAUDE_CODE_ENABLE_TELEMETRY`, `OTEL_EXPORTER_OTLP_ENDPOINT` and a `curl` of it.",
            action="Restore the network path or DNS name the clients use, or their telemetry settings (managed "
            "settings); set working_hours_utc and working_days to the team's hours.",
            firing=Scenario(
                "nothing on a Thursday", [series(ok, "0x90"), series(up_series, "1x90")], (at(thursday, 11),), 0
            ),
            quiet=(
                Scenario(
                    "09-17 weekdays: nights and the weekend are not working hours",
                    [
                        series(ok, weekly(5, quiet_until)),
                        series(up_series, f"1x{quiet_until // 10}"),
                    ],
                    (
                        at(thursday, 9, 30),
                        at(thursday, 11),
                        at(thursday + 1, 3),
                        at(saturday, 11),
                        at(sunday, 15),
                        at(monday, 10),
                        at(monday, 16, 30),
                    ),
                ),
            ),
            labels={"job": JOB},
            step="10m",
        ),
    ]


def _requests(status: str, values: str, target: str = C1) -> dict[str, str]:
    return series(f'{OTLP_REQUESTS}{{{target}, protocol="grpc", signal="metrics", status="{status}"}}', values)


def _ingest_alerts() -> list[Alert]:
    overloaded = t("ingest_overloaded_ratio")
    refused = t("ingest_refused_ratio")
    minimum = t("ingest_min_requests")
    latency = t("ingest_latency_p95_seconds")

    def share(by: str, matcher: str) -> str:
        return (
            f"sum by ({by}) (rate({collector(OTLP_REQUESTS, matcher)}[5m]))\n"
            f"/\nsum by ({by}) (rate({collector(OTLP_REQUESTS)}[5m]))"
        )

    def enough(by: str) -> str:
        return f"sum by ({by}) (increase({collector(OTLP_REQUESTS)}[5m])) >= {minimum}"

    def histogram(bucket_values: dict[str, str]) -> list[dict[str, str]]:
        name = f'{OTLP_DURATION}_bucket{{{C1}, protocol="grpc", signal="metrics"'
        count = f'{OTLP_DURATION}_count{{{C1}, protocol="grpc", signal="metrics"}}'
        return [series(f'{name}, le="{le}"}}', values) for le, values in bucket_values.items()] + [
            series(count, bucket_values["+Inf"])
        ]

    slow = {"0.25": "0x30", "2.5": "0x30", "5": "0+10x30", "+Inf": "0+10x30"}
    fast = {"0.25": "0+10x30", "2.5": "0+10x30", "5": "0+10x30", "+Inf": "0+10x30"}
    return [
        Alert(
            name="CollectorIngestOverloaded",
            group=COLLECTOR,
            value=share("job, instance", 'status="overloaded"'),
            op=">",
            threshold=overloaded,
            guard=enough("job, instance"),
            for_="10m",
            severity="warning",
            summary="The collector {{ $labels.instance }} is refusing telemetry for lack of capacity",
            description=f"{{{{ $value | humanizePercentage }}}} of OTLP requests got 429 / RESOURCE_EXHAUSTED over "
            f"5 minutes; the threshold is {overloaded * 100:g} %.",
            meaning=f"More than {overloaded * 100:g} % of a collector's OTLP requests were refused as overloaded "
            "(HTTP 429 / gRPC RESOURCE_EXHAUSTED: the in-flight byte budget or the write queue is full, or in "
            "queue.mode=wal the durable queue is full or its oldest record too old) over 5 "
            f"minutes, with at least {minimum} requests. Clients retry, but late and, past their retry budget, "
            "not at all.",
            check="OTLP requests by status, Write queue depth and age, Store write latency: a slow store fills "
            "the queue; a burst of clients fills the byte budget.",
            action="Speed up or scale the store, add collector replicas, or raise limits.max_inflight_bytes / "
            "limits.max_queued_items if the host has the memory.",
            firing=Scenario(
                "one request in ten refused",
                [_requests("ok", "0+90x40"), _requests("overloaded", "0+10x40")],
                ("30m",),
                value=0.1,
            ),
            quiet=(
                Scenario(
                    "no refusals, and refusals for a bad token (another alert's)",
                    [
                        _requests("ok", "0+90x40"),
                        _requests("overloaded", "0x40"),
                        _requests("unauthenticated", "0+10x40"),
                    ],
                    ("30m",),
                ),
                Scenario(
                    "too few requests to tell",
                    [_requests("ok", "0+1x40"), _requests("overloaded", "0+1x40")],
                    ("30m",),
                ),
            ),
            labels=C1_LABELS,
        ),
        Alert(
            name="CollectorIngestMisconfiguredSenders",
            group=COLLECTOR,
            value=share("job", REFUSED_BY_SENDERS),
            op=">",
            threshold=refused,
            guard=enough("job"),
            for_="15m",
            severity="warning",
            summary=f"Senders to job {JOB} are misconfigured: their requests are refused",
            description=f"{{{{ $value | humanizePercentage }}}} of OTLP requests were refused as unauthenticated, "
            f"malformed, too large or of an unsupported media type over 5 minutes; the threshold is "
            f"{refused * 100:g} %.",
            meaning=f"More than {refused * 100:g} % of OTLP requests, all replicas together, were refused because "
            "of the sender: unauthenticated (401: missing or wrong ingest token), bad_request (400), too_large "
            f"(413, over limits.max_request_bytes) or unsupported_media_type (415), with at least {minimum} "
            "requests. Those clients' data is lost; retrying does not help them.",
            check="OTLP requests by status for which status, protocol and signal; the collector's log has one "
            "`otlp.request_refused` line per refusal with its reason.",
            action="Fix the clients' `OTEL_EXPORTER_OTLP_HEADERS` (token), protocol (`OTEL_EXPORTER_OTLP_PROTOCOL` "
            "against the port) or batch size, or add the token to the collector's tokens file.",
            firing=Scenario(
                "3 % unauthenticated and 2 % malformed, over two replicas",
                [
                    _requests("ok", "0+45x40"),
                    _requests("unauthenticated", "0+3x40"),
                    _requests("ok", "0+50x40", C2),
                    _requests("bad_request", "0+2x40", C2),
                ],
                ("30m",),
                value=0.05,
            ),
            quiet=(
                Scenario(
                    "overload and duplicates are not the senders' fault",
                    [
                        _requests("ok", "0+80x40"),
                        _requests("overloaded", "0+10x40"),
                        _requests("duplicate", "0+10x40"),
                        _requests("unauthenticated", "0x40"),
                    ],
                    ("30m",),
                ),
            ),
            labels={"job": JOB},
        ),
        Alert(
            name="CollectorIngestLatencyHigh",
            group=COLLECTOR,
            value=LATENCY_P95,
            op=">",
            threshold=latency,
            guard=f"sum by (job, instance) (increase({collector(OTLP_DURATION + '_count')}[5m])) >= {minimum}",
            for_="15m",
            severity="warning",
            summary="The collector {{ $labels.instance }} answers OTLP requests slowly",
            description=f"p95 of the OTLP request duration is {{{{ $value | humanizeDuration }}}}; the threshold "
            f"is {latency} s.",
            meaning=f"The 95th percentile of a collector's OTLP request duration (arrival to answer; a request is "
            f"answered once its rows are committed) is above {latency} s over 5 minutes, with at least {minimum} "
            "requests. Clients time out at 10 s by default and then retry the whole batch.",
            check="Request latency next to Store write latency: a slow store shows in both; CPU of the collector "
            "(decoding) shows only in the first.",
            action="Look at the store first (ClickHouse load, disk, network); add collector replicas if the "
            "collector's CPU is saturated.",
            firing=Scenario("every request takes 2.5–5 s", histogram(slow), ("30m",), value=2.5 + 2.5 * 0.95),
            quiet=(Scenario("every request takes under 0.25 s", histogram(fast), ("30m",)),),
            labels=C1_LABELS,
        ),
    ]


def _store_alerts() -> list[Alert]:
    fill = t("queue_fill_ratio")
    age = t("queue_age_seconds")
    stale = t("gauge_stale_seconds")
    per_instance = "max by (job, instance)"
    return [
        Alert(
            name="CollectorWriteQueueBackingUp",
            group=COLLECTOR,
            value=f"{per_instance} ({collector(QUEUE_ITEMS)} / {collector(QUEUE_CAPACITY)})",
            op=">",
            threshold=fill,
            for_="5m",
            severity="warning",
            summary="The collector {{ $labels.instance }} cannot keep up writing to the store",
            description=f"The write queue is {{{{ $value | humanizePercentage }}}} full; the threshold is "
            f"{fill * 100:g} %. When it is full senders get 429 / RESOURCE_EXHAUSTED.",
            meaning=f"A collector's write queue is more than {fill * 100:g} % full (queued items / "
            "limits.max_queued_items); when it is full senders get 429 / RESOURCE_EXHAUSTED.",
            check="Write queue depth and age, Store write latency and errors.",
            action="Check Store write latency and errors: a slow or unreachable ClickHouse, a full disk; raise "
            "limits.max_queued_items only if the store keeps up on average.",
            firing=Scenario(
                "190 000 of 200 000",
                [
                    series(f"{QUEUE_ITEMS}{{{C1}}}", "1000x5 190000x20"),
                    series(f"{QUEUE_CAPACITY}{{{C1}}}", "200000x25"),
                ],
                ("15m",),
                value=0.95,
            ),
            quiet=(
                Scenario(
                    "half full",
                    [
                        series(f"{QUEUE_ITEMS}{{{C1}}}", "1000x5 100000x20"),
                        series(f"{QUEUE_CAPACITY}{{{C1}}}", "200000x25"),
                    ],
                    ("15m",),
                ),
            ),
            labels=C1_LABELS,
        ),
        Alert(
            name="CollectorWriteQueueStale",
            group=COLLECTOR,
            value=f"{per_instance} ({collector(QUEUE_AGE)})",
            op=">",
            threshold=age,
            for_="5m",
            severity="warning",
            summary="The collector {{ $labels.instance }} has had data waiting to be written for minutes",
            description=f"The oldest queued batch is {{{{ $value | humanizeDuration }}}} old; the threshold is "
            f"{age} s.",
            meaning=f"The oldest batch waiting to be written is more than {age} s old: the writer is stuck or the "
            "store refuses inserts.",
            check="Write queue age, Store write errors and the collector's log.",
            action="Check Store write errors and the collector's log; restart the collector if the writer is stuck "
            "(acknowledged data is spooled and survives).",
            firing=Scenario(
                "4 minutes old", [series(f"{QUEUE_AGE}{{{C1}}}", f"0x5 {age * 2}x20")], ("15m",), value=age * 2
            ),
            quiet=(Scenario("1 minute old", [series(f"{QUEUE_AGE}{{{C1}}}", f"0x5 {age // 2}x20")], ("15m",)),),
            labels=C1_LABELS,
        ),
        Alert(
            name="CollectorStoreWriteErrors",
            group=COLLECTOR,
            value=f"sum by (job, instance) (increase({collector(STORE_WRITE_ERRORS)}[5m]))",
            op=">",
            threshold=0,
            for_="10m",
            severity="warning",
            summary="The store refuses the writes of the collector {{ $labels.instance }}",
            description="{{ $value | humanize }} inserts into the store failed in the last 5 minutes; senders are "
            "told to retry (503 / UNAVAILABLE).",
            meaning="Inserts into the store keep failing for 10 minutes: the requests concerned are answered 503 / "
            "UNAVAILABLE, so clients retry and nothing acknowledged is lost yet, but nothing new is stored. A "
            "single failed insert does not fire it.",
            check="Store write errors and latency; the collector's log has the store's error; ClickHouse's own "
            "log and free disk space.",
            action="Restore the store (ClickHouse up, disk space, credentials, a migration that failed); for the "
            "embedded store, the data directory's disk and permissions.",
            firing=Scenario(
                "one failed insert a minute",
                [series(f"{STORE_WRITE_ERRORS}{{{C1}}}", "0x5 1+1x25")],
                ("20m",),
                value=5,
            ),
            quiet=(Scenario("one failed insert", [series(f"{STORE_WRITE_ERRORS}{{{C1}}}", "0x5 1x25")], ("20m",)),),
            labels=C1_LABELS,
        ),
        Alert(
            name="CollectorDerivedGaugesStale",
            group=COLLECTOR,
            value=f"time() - {per_instance} ({collector(DERIVED_REFRESH_TIMESTAMP)})",
            op=">",
            threshold=stale,
            for_="5m",
            severity="warning",
            summary="The derived gauges of the collector {{ $labels.instance }} are stale",
            description="The derived gauges (active users, sessions, spend, acceptance) were last read from the "
            "store {{ $value | humanizeDuration }} ago; ClaudeCodeSpendTodayHigh sees old figures.",
            meaning=f"A collector last read its derived gauges (`cc_analytics_*{{window}}`: spend, active users, "
            f"sessions, accepted lines, acceptance) from the store more than {stale} s ago: every read since has "
            f"failed (`{DERIVED_REFRESH_ERRORS}` rises) and the gauges repeat old figures.",
            check=f"`{DERIVED_REFRESH_ERRORS}` and the collector's log (the store's error); `GET /readyz`.",
            action="Restore the store's read path (ClickHouse up, the reader's credentials and grants); the "
            "gauges recover at the next scrape.",
            firing=Scenario(
                "reads stop at minute 10",
                [series(f"{DERIVED_REFRESH_TIMESTAMP}{{{C1}}}", "0+60x10 600x40")],
                ("40m",),
                value=40 * 60 - 600,
            ),
            quiet=(
                Scenario("read every minute", [series(f"{DERIVED_REFRESH_TIMESTAMP}{{{C1}}}", "0+60x50")], ("40m",)),
            ),
            labels=C1_LABELS,
        ),
        Alert(
            name="CollectorSeriesCapReached",
            group=COLLECTOR,
            value=f"sum by (job, metric) (increase({collector(SERIES_DROPPED)}[15m]))",
            op=">",
            threshold=0,
            for_="5m",
            severity="ticket",
            summary="{{ $labels.metric }} has reached its series cap",
            description="{{ $value | humanize }} data points with new label sets of {{ $labels.metric }} were "
            "added to its `other` series in the last 15 minutes.",
            meaning="A counter reached metrics.max_series_per_metric: points of new label sets are added to its "
            "`other` series. Sums stay exact; breakdowns by organization, model or member lose the newcomers.",
            check="Exporter series per counter; `topk(10, count by (organization_id, model) "
            "(claude_code_cost_usage_USD_total))` for what uses the series.",
            action="Raise metrics.max_series_per_metric if Prometheus has room, or drop a label from "
            "metrics.labels (per-member labels are the usual cause).",
            firing=Scenario(
                "one point a minute dropped",
                [series(f'{SERIES_DROPPED}{{{C1}, metric="{COST}"}}', "0x5 1+1x20")],
                ("20m",),
                value=15,
            ),
            quiet=(
                Scenario("nothing dropped", [series(f'{SERIES_DROPPED}{{{C1}, metric="{COST}"}}', "0x25")], ("20m",)),
            ),
            labels={"job": JOB, "metric": COST},
        ),
    ]


# A collector in queue.mode=memory exposes every durable queue figure at 0, its capacity too: the queue's alerts
# stay quiet for it, and each shows so in a scenario.
MEMORY_MODE = "a collector in queue.mode=memory (every durable queue figure 0)"


def _durable_queue_alerts() -> list[Alert]:
    fill = t("durable_queue_fill_ratio")
    age = t("durable_queue_age_seconds")
    per_instance = "max by (job, instance)"
    queued = f"{DURABLE_QUEUE_BYTES}{{{C1}}}"
    oldest = f"{DURABLE_QUEUE_AGE}{{{C1}}}"
    corrupt = f"{DURABLE_QUEUE_CORRUPT}{{{C1}}}"

    def filled(waiting: int, capacity: int = 1_000_000_000) -> list[dict[str, str]]:
        return [series(queued, f"0x5 {waiting}x20"), series(f"{DURABLE_QUEUE_CAPACITY}{{{C1}}}", f"{capacity}x25")]

    return [
        Alert(
            name="CollectorDurableQueueFilling",
            group=COLLECTOR,
            # Only a durable queue has a capacity: in memory mode bytes and capacity both read 0.
            value=f"{per_instance} ({collector(DURABLE_QUEUE_BYTES)} / ({collector(DURABLE_QUEUE_CAPACITY)} > 0))",
            op=">",
            threshold=fill,
            for_="5m",
            severity="warning",
            summary="The durable queue of the collector {{ $labels.instance }} is filling up",
            description=f"The durable queue is {{{{ $value | humanizePercentage }}}} full; the threshold is "
            f"{fill * 100:g} %. When it is full senders get 429 / RESOURCE_EXHAUSTED.",
            meaning=f"A collector's durable queue (queue.mode=wal) holds more than {fill * 100:g} % of "
            "queue.max_bytes in records waiting to be drained into the store: the store is down or slower than the "
            "senders. When it is full senders get 429 / RESOURCE_EXHAUSTED; they retry, and past their retry "
            "budget drop.",
            check="Durable queue bytes and Durable queue age and drain rate on the Collector health dashboard; "
            "Store write errors and latency; CollectorDurableQueueNotDraining when nothing drains.",
            action="Restore or speed up the store (ClickHouse up, disk space, credentials); raise queue.max_bytes "
            "if the data directory's disk has room, to ride out a longer outage.",
            firing=Scenario("900 MB of 1 GB", filled(900_000_000), ("15m",), value=0.9),
            quiet=(
                Scenario("half full", filled(500_000_000), ("15m",)),
                Scenario(MEMORY_MODE, filled(0, 0), ("15m",)),
            ),
            labels=C1_LABELS,
        ),
        Alert(
            name="CollectorDurableQueueNotDraining",
            group=COLLECTOR,
            value=f"{per_instance} ({collector(DURABLE_QUEUE_AGE)})",
            op=">",
            threshold=age,
            for_="5m",
            severity="warning",
            summary="The durable queue of the collector {{ $labels.instance }} is not draining into the store",
            description=f"The oldest record waiting to be drained arrived {{{{ $value | humanizeDuration }}}} ago; "
            f"the threshold is {age} s.",
            meaning=f"The oldest durable queue record (queue.mode=wal) waiting to be drained arrived more than "
            f"{age} s ago: nothing has been drained for that long (the store is down or keeps failing the "
            "drainer's inserts), or the drain falls behind. Senders are still acknowledged until the queue is full "
            "(queue.max_bytes) or its oldest record is older than queue.max_age_seconds; then they get 429 / "
            "RESOURCE_EXHAUSTED.",
            check=f"Durable queue age and drain rate (`{DURABLE_QUEUE_DRAINED}` stays flat while the store is "
            "down); Store write errors and the collector's log (the store's error).",
            action="Restore the store: the drainer retries the same records in order (backoff up to 10 s) and "
            "catches up by itself, losing nothing acknowledged. Restart the collector only if the store takes "
            "writes and still nothing drains.",
            firing=Scenario(
                "the store is down from minute 5: the oldest record ages a minute a minute",
                [series(oldest, "1x5 60+60x20"), series(queued, "0x5 4096+4096x20")],
                ("20m",),
                value=900,
            ),
            quiet=(
                Scenario("draining: each record drained within a second", [series(oldest, "0x5 1x20")], ("20m",)),
                Scenario(MEMORY_MODE, [series(oldest, "0x25"), series(queued, "0x25")], ("20m",)),
            ),
            labels=C1_LABELS,
        ),
        Alert(
            name="CollectorDurableQueueCorruptRecords",
            group=COLLECTOR,
            value=f"sum by (job, instance) (increase({collector(DURABLE_QUEUE_CORRUPT)}[15m]))",
            op=">",
            threshold=0,
            for_="5m",
            severity="warning",
            summary="The collector {{ $labels.instance }} skipped damaged durable queue records",
            description="{{ $value | humanize }} damaged durable queue records were skipped in the last 15 minutes; "
            "the requests they held are not stored.",
            meaning="The collector found damaged records in its durable queue (a write torn by a power failure, a "
            "flipped bit on disk) and skipped them; the records before and after them are drained. Those requests "
            "were acknowledged but are not stored. Each is logged as `queue.corrupt_record` with its segment, "
            "offset, bytes skipped and reason.",
            check="The collector's log (`queue.corrupt_record`); the kernel log and the health (SMART) of the disk "
            "of `<data_dir>/wal/`; whether the host lost power, and queue.fsync (never loses the last seconds "
            "to a power failure).",
            action="Replace a disk that reports errors; set queue.fsync to batch or always if it was never; tell "
            "the teams that data of that time may be missing.",
            firing=Scenario("3 damaged records skipped", [series(corrupt, "0x5 3x15")], ("15m",), value=3),
            quiet=(
                Scenario(f"nothing damaged, or {MEMORY_MODE}", [series(corrupt, "0x20")], ("15m",)),
                Scenario(
                    "a restart: the count of an earlier run starts over at 0", [series(corrupt, "2x5 0x15")], ("15m",)
                ),
            ),
            labels=C1_LABELS,
        ),
    ]


def _dead_letters(outcome: str, values: str) -> dict[str, str]:
    return series(f'{DEAD_LETTER_BATCHES}{{{C1}, outcome="{outcome}"}}', values)


def _refusal_alerts() -> list[Alert]:
    refused = collector(OTLP_REQUESTS, 'status="refused_by_store"')
    not_written = collector(DEAD_LETTER_BATCHES, 'outcome="not_written"')
    return [
        Alert(
            name="CollectorStoreRefusingData",
            group=COLLECTOR,
            # In queue.mode=memory the sender is answered the refusal (status refused_by_store); in queue.mode=wal
            # it was acknowledged before the drain, and only the dead-letter count shows the refusal.
            value=f"sum by (job, instance) (increase({refused}[15m])) > 0\nor\n"
            f"sum by (job, instance) (increase({collector(DEAD_LETTER_BATCHES)}[15m]))",
            op=">",
            threshold=0,
            for_="5m",
            severity="warning",
            summary="The store refuses data of the collector {{ $labels.instance }} for good",
            description="{{ $value | humanize }} requests refused by the store in the last 15 minutes; their facts "
            "are set aside in the dead-letter file.",
            meaning="The store answered but refused requests for good (a value it cannot take, a table "
            "constraint, a schema that does not match the collector's). In queue.mode=memory their senders got "
            "400 / INVALID_ARGUMENT (status `refused_by_store`) and dropped them; in queue.mode=wal they were "
            "already acknowledged. Their facts are set aside, one JSON line each, in "
            "`<data_dir>/dead-letter.jsonl` (up to dead_letter.max_bytes) and stored nowhere else.",
            check="Store refusals and dead letters on the Collector health dashboard; the collector's log "
            "(`store.write_refused` with the store's error, `dead_letter.set_aside` per request); the store's "
            "schema and constraints against the collector's version.",
            action="Fix the store's schema or constraints (a migration not run, a constraint added by hand); then "
            "insert the facts of dead-letter.jsonl (the rows as they would have been stored) and move the file "
            "away, which also makes room for new lines.",
            firing=Scenario(
                "queue.mode=memory: a request answered refused_by_store and set aside",
                [_requests("refused_by_store", "0x5 1x20"), _dead_letters("written", "0x5 1x20")],
                ("15m",),
                value=1,
            ),
            also_firing=(
                Scenario(
                    "queue.mode=wal: a drained record refused and set aside, its sender acknowledged long before",
                    [_requests("refused_by_store", "0x25"), _dead_letters("written", "0x5 1x20")],
                    ("15m",),
                    value=1,
                ),
            ),
            quiet=(
                Scenario(
                    "senders' bad requests are not the store's refusals",
                    [
                        _requests("bad_request", "0x5 1+1x20"),
                        _requests("refused_by_store", "0x25"),
                        _dead_letters("written", "0x25"),
                        _dead_letters("not_written", "0x25"),
                    ],
                    ("15m",),
                ),
            ),
            labels=C1_LABELS,
        ),
        Alert(
            name="CollectorDeadLetterNotWritten",
            group=COLLECTOR,
            value=f"sum by (job, instance) (increase({not_written}[15m]))",
            op=">",
            threshold=0,
            for_="5m",
            severity="critical",
            summary="Data the store refused is lost: the collector {{ $labels.instance }} could not set it aside",
            description="{{ $value | humanize }} requests refused by the store in the last 15 minutes were not "
            "written to the dead-letter file: their data is stored nowhere.",
            meaning="Requests the store refused for good could not be set aside in `<data_dir>/dead-letter.jsonl`: "
            "the file reached dead_letter.max_bytes (0: no file at all) or cannot be written. Their senders "
            "dropped them (in queue.mode=wal they had been acknowledged), so their data is lost.",
            check="The collector's log: `dead_letter.full` (size, max_bytes) or `dead_letter.write_failed` (the "
            "error); the size of dead-letter.jsonl and the free space of the data directory; "
            "CollectorStoreRefusingData for why the store refuses.",
            action="Keep the facts of dead-letter.jsonl and move the file away, or raise dead_letter.max_bytes; "
            "repair the data directory's disk or permissions; then fix what the store refuses.",
            firing=Scenario(
                "the file is full: 2 refused requests not written",
                [_dead_letters("written", "0x25"), _dead_letters("not_written", "0x5 2x20")],
                ("15m",),
                value=2,
            ),
            quiet=(
                Scenario(
                    "refused requests set aside (CollectorStoreRefusingData's case)",
                    [_dead_letters("written", "0x5 2x20"), _dead_letters("not_written", "0x25")],
                    ("15m",),
                ),
                Scenario(
                    f"nothing refused, {MEMORY_MODE}",
                    [_dead_letters("written", "0x25"), _dead_letters("not_written", "0x25")],
                    ("15m",),
                ),
            ),
            labels=C1_LABELS,
        ),
    ]


ALERTS: list[Alert] = [
    *_spend_alerts(),
    *_usage_alerts(),
    *_availability_alerts(),
    *_ingest_alerts(),
    *_store_alerts(),
    *_durable_queue_alerts(),
    *_refusal_alerts(),
]

# --- rules.yml ------------------------------------------------------------------------------------------------


def _group(group: str) -> dict[str, Any]:
    rules: list[dict[str, Any]] = [
        {"record": name, "expr": expr} for name, expr, where in RECORDING_RULES if where == group
    ]
    rules += [
        {
            "alert": alert.name,
            "expr": alert.expr(),
            "for": alert.for_,
            "labels": {"severity": alert.severity},
            "annotations": alert.annotations(),
        }
        for alert in ALERTS
        if alert.group == group
    ]
    interval = {"interval": GROUP_INTERVALS[group]} if group in GROUP_INTERVALS else {}
    return {"name": group_name(group), **interval, "rules": rules}


def prometheus_rules() -> dict[str, Any]:
    return {"groups": [_group(group) for group in GROUP_ORDER]}


# --- promtool tests -------------------------------------------------------------------------------------------


def _alert_test(alert: Alert, scenario: Scenario, firing: bool) -> dict[str, Any]:
    expected = (
        [
            {
                "exp_labels": {"severity": alert.severity, **alert.labels},
                "exp_annotations": {
                    key: render(text, alert.labels, scenario.value) for key, text in alert.annotations().items()
                },
            }
        ]
        if firing
        else []
    )
    return {
        "name": f"{alert.name} {'fires' if firing else 'stays quiet'}: {scenario.name}",
        "interval": alert.step,
        "input_series": scenario.inputs,
        "alert_rule_test": [
            {"eval_time": when, "alertname": alert.name, "exp_alerts": expected} for when in scenario.at
        ],
    }


# promtool evaluates every rule of rules.yml at every evaluation: week-long scenarios are evaluated every 30
# minutes, which their eval times and `for` durations are multiples of, to keep the file's run short.
EVALUATION_INTERVALS = {"1m": "1m", "10m": "30m"}


def promtool_tests(step: str) -> dict[str, Any]:
    tests = []
    for alert in (alert for alert in ALERTS if alert.step == step):
        tests += [_alert_test(alert, scenario, firing=True) for scenario in (alert.firing, *alert.also_firing)]
        tests += [_alert_test(alert, scenario, firing=False) for scenario in alert.quiet]
    return {
        "rule_files": ["../rules.yml"],
        "evaluation_interval": EVALUATION_INTERVALS[step],
        "group_eval_order": group_eval_order(),
        "tests": tests,
    }


def group_eval_order() -> list[str]:
    """Recording groups before the alerts that read them. Without it promtool may evaluate an alert group
    first, at an evaluation time whose recorded samples do not exist yet (the previous ones are older than
    the 5 m lookback at a 10 m step), and the alert then sees nothing."""
    return [group_name(group) for group in GROUP_ORDER]


def _sample(expr: str, at_: str, labels: str, value: float) -> dict[str, Any]:
    return {"expr": expr, "eval_time": at_, "exp_samples": [{"labels": labels, "value": value}]}


def recording_tests() -> dict[str, Any]:
    """Recording rules evaluated on a small known series set."""
    opus = 'model="claude-opus-4-6"'
    return {
        "rule_files": ["../rules.yml"],
        "evaluation_interval": "1m",
        "group_eval_order": group_eval_order(),
        "tests": [
            {
                "name": "recording rules",
                "interval": "1m",
                "input_series": [
                    series(f"{COST}{{{ORG}, {opus}}}", "0+0.5x120"),
                    series(f'{TOKENS}{{{ORG}, {opus}, type="input"}}', "0+600x120"),
                    series(f'{TOKENS}{{{ORG}, {opus}, type="output"}}', "0+100x120"),
                    series(f'{TOKENS}{{{ORG}, {opus}, type="cacheRead"}}', "0+1800x120"),
                    series(f'{TOKENS}{{organization_id="org-beta", {opus}, type="input"}}', "0+600x120"),
                    series(f'{LINES}{{{ORG}, type="added"}}', "0+6x120"),
                    series(f'{DECISIONS}{{{ORG}, tool_name="Write", decision="accept"}}', "0+3x120"),
                    series(f'{DECISIONS}{{{ORG}, tool_name="Edit", decision="reject"}}', "0+1x120"),
                    series(f'{DECISIONS}{{{ORG}, tool_name="Bash", decision="reject"}}', "0+5x120"),
                    series(f'{API_EVENTS}{{{C1}, {ORG}, event_name="api_request"}}', "0+9x120"),
                    series(f'{API_EVENTS}{{{C2}, {ORG}, event_name="api_error"}}', "0+1x120"),
                    series(f'{API_EVENTS}{{{C1}, {ORG}, event_name="tool_result"}}', "0+30x120"),
                    series(f'{API_EVENTS}{{job="other", {ORG}, event_name="tool_result"}}', "0+30x120"),
                ],
                "promql_expr_test": [
                    _sample(
                        "organization_id_model:claude_code_cost_usage_usd:rate5m",
                        "60m",
                        f"organization_id_model:claude_code_cost_usage_usd:rate5m{{{ORG}, {opus}}}",
                        0.5 / 60,
                    ),
                    _sample(
                        f'organization_id_model_type:claude_code_token_usage_tokens:rate5m{{type="input", {ORG}}}',
                        "60m",
                        f"organization_id_model_type:claude_code_token_usage_tokens:rate5m{{{ORG}, {opus}, "
                        'type="input"}',
                        10,
                    ),
                    _sample(
                        "organization_id:claude_code_lines_of_code_added:rate5m",
                        "60m",
                        f"organization_id:claude_code_lines_of_code_added:rate5m{{{ORG}}}",
                        0.1,
                    ),
                    _sample(SPEND_1H, "100m", f"{SPEND_1H}{{{ORG}}}", 30),
                    # Bash is not a code-editing tool: 3 accepts / (3 + 1) decisions.
                    _sample(ACCEPTANCE_1D, "100m", f"{ACCEPTANCE_1D}{{{ORG}}}", 0.75),
                    # Errors and calls are summed over the replicas: 1 / (9 + 1).
                    _sample(API_ERROR_RATIO, "100m", f"{API_ERROR_RATIO}{{{ORG}}}", 0.1),
                    # 1800 cache reads of 2400 input-side tokens a minute; output tokens are not input.
                    _sample(f"{CACHE_SHARE_1H}{{{ORG}}}", "100m", f"{CACHE_SHARE_1H}{{{ORG}}}", 0.75),
                    # An organization without cache reads has a share of 0, not none.
                    _sample(
                        f'{CACHE_SHARE_1H}{{organization_id="org-beta"}}',
                        "100m",
                        f'{CACHE_SHARE_1H}{{organization_id="org-beta"}}',
                        0,
                    ),
                    # Only the collector's job counts: 30 calls a minute.
                    _sample(TOOL_RATE_1H, "100m", f"{TOOL_RATE_1H}{{{ORG}}}", 0.5),
                ],
            }
        ],
    }


# --- recorded series inlined (Grafana's copies, tests without rules.yml) -------------------------------------


def inline_recorded(expr: str) -> str:
    """Replace recorded series by their definitions (for Grafana alerts and tests that run without the rules).

    `name[range]` becomes the subquery `(definition)[range:step]`, at a 1-minute step, 5 minutes for a day or
    more; `name offset d` shifts every selector of the definition by d. Recorded series are never used with
    label matchers, so a plain substitution is exact."""
    records = {name: definition for name, definition, _ in RECORDING_RULES}
    pattern = re.compile(
        r"(?<![\w:])("
        + "|".join(re.escape(n) for n in sorted(records, key=len, reverse=True))
        + r")(\{[^}]*\})?(\[[^\]:]+\])?(?: offset (\d+[smhdwy]))?(?![\w:])"
    )

    def replace(match: re.Match[str]) -> str:
        name, matchers, window, offset = match.groups()
        if matchers:
            raise ValueError(f"recorded series {name} used with matchers {matchers}: cannot inline")
        body = inline_recorded(records[name])
        if offset:
            if window:
                raise ValueError(f"{match.group(0)}: a range and an offset on a recorded series")
            return f"({shifted(body, offset)})"
        return f"({body}){window[:-1]}:{subquery_step(window[1:-1])}]" if window else f"({body})"

    return pattern.sub(replace, expr)


def subquery_step(window: str) -> str:
    return "5m" if seconds(window) >= 86400 else "1m"


def shifted(expr: str, offset: str) -> str:
    """`expr` evaluated `offset` earlier: every range selector gets the offset. Refuses what it cannot shift
    exactly (subqueries, instant selectors)."""
    if re.search(r"\[[^\]]*:[^\]]*\]", expr) or re.search(r"\}(?!\[)", expr):
        raise ValueError(f"cannot shift {expr!r} by {offset}")
    return re.sub(r"(\[\d+[smhdwy]\])", rf"\1 offset {offset}", expr)


def seconds(window: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    return int(window[:-1]) * units[window[-1]]
