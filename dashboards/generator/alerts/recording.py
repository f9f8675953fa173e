"""The selectors the rules share, the recording rules, and the same series inlined for the places that run
without rules.yml (Grafana's alert copies, tests)."""

from __future__ import annotations

import re

from generator.alerts.model import DAILY, RECORDING
from generator.vocabulary import (
    API_EVENTS,
    COST,
    DECISIONS,
    EDIT_TOOLS,
    LINES,
    OTLP_DURATION,
    OTLP_ITEMS,
    SPEND_GAUGE,
    TOKENS,
    family,
    sel,
    t,
)

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
