"""The alerts on how Claude Code is used: spend, acceptance, API errors, models, cache reads, tool loops."""

from __future__ import annotations

from generator.alerts.families import organization_alert
from generator.alerts.model import CLAUDE_CODE, DAILY, Alert, Scenario
from generator.alerts.recording import (
    ACCEPTANCE_1D,
    ACCEPTANCE_7D,
    API_CALLS,
    API_ERROR_RATIO,
    CACHE_SHARE_1H,
    CACHE_SHARE_7D,
    EDIT_DECISIONS_1D,
    INPUT_SIDE,
    SPEND_1D,
    SPEND_1H,
    SPEND_TODAY,
    TOOL_RATE_BUSY,
    TOOL_RESULTS,
    promql_string,
)
from generator.alerts.scenarios import C1, C2, JOB, ORG, rising, weekly, working_monday
from generator.promtool import MONDAY, at, minute_of, minutes, series
from generator.vocabulary import API_EVENTS, COST, DECISIONS, SPEND_GAUGE, TOKENS, t

# --- the alerts -----------------------------------------------------------------------------------------------


def spend_alerts() -> list[Alert]:
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
        organization_alert(
            name="ClaudeCodeOrganizationSpendHigh",
            group=DAILY,
            value=SPEND_1D,
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
            step="10m",
        ),
        organization_alert(
            name="ClaudeCodeSpendSpike",
            group=CLAUDE_CODE,
            # The same hour a week earlier, so working hours compare with working hours and a Monday morning with
            # last Monday's; the floor keeps a quiet hour then from making any spend a spike.
            value=f"{SPEND_1H}\n/\nclamp_min({SPEND_1H} offset 1w or {SPEND_1H} * 0, {floor})",
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
                    working_monday(monday),
                ),
            ),
            step="10m",
        ),
    ]


def usage_alerts() -> list[Alert]:
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
        organization_alert(
            name="ClaudeCodeAcceptanceRateDropping",
            group=DAILY,
            value=f"{ACCEPTANCE_7D} - {ACCEPTANCE_1D}",
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
            step="10m",
        ),
        organization_alert(
            name="ClaudeCodeApiErrorRatioHigh",
            group=CLAUDE_CODE,
            value=API_ERROR_RATIO,
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
                [series(requests, rising(10, 60)), series(errors, rising(2, 60))],
                ("40m",),
                value=2 / 12,
            ),
            quiet=(
                Scenario(
                    "no errors",
                    [series(requests, rising(10, 60)), series(errors, rising(0, 60))],
                    ("40m",),
                ),
                Scenario(
                    "half the calls fail, but there are too few calls to tell",
                    [series(requests, rising(0.5, 60)), series(errors, rising(0.5, 60))],
                    ("40m",),
                ),
            ),
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
    return organization_alert(
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
                working_monday(monday),
            ),
            Scenario("the same collapse with a tenth of the tokens", collapsing(10), (at(monday, 10, 30),)),
        ),
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
    return organization_alert(
        name="ClaudeCodeToolLoop",
        group=DAILY,
        value=f"sum by (organization_id) (rate({TOOL_RESULTS}[15m]))\n/\n{TOOL_RATE_BUSY}",
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
                working_monday(monday),
            ),
        ),
        step="10m",
    )
