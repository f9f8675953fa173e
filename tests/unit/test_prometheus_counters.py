"""The exporter's counters: sums of committed deltas, label policy, series cap, expiry, exposition."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporters.prometheus import ClaudeCodeCounters, PrometheusConfigError, PrometheusExporterConfig, create_exporter
from pdata import Member, MetricPoint, PointFact

GOLDEN = Path(__file__).resolve().parents[2] / "exporters" / "prometheus" / "testdata" / "counters.prom"
COST = "claude_code_cost_usage_USD_total"
# Rendering tests read values at once: no hold (the hold has its own tests).
NO_HOLD = PrometheusExporterConfig(new_series_hold_seconds=0)
ALICE = Member("alice@example.com", "email", "org-acme", "core")
CAROL = Member("c0ffee", "anonymous", "", "")


def fact(metric: str, delta: float, member: Member = ALICE, tool_name: str = "", **attributes: str) -> PointFact:
    attributes = {"session.id": "sess-1", "user.id": "u" * 64, "user.email": member.member, **attributes}
    point = MetricPoint(metric, "", 1, True, 1, 2, delta, attributes, {"service.name": "claude-code"})
    return PointFact(point, member, delta, 0, "", tool_name, b"\0" * 16, 2)


def cost(delta: float, model: str = "claude-opus-4-6", member: Member = ALICE) -> PointFact:
    return fact("claude_code.cost.usage", delta, member, model=model, query_source="main")


def samples(counters: ClaudeCodeCounters) -> dict[tuple[str, frozenset], float]:
    """Every sample of the fast text rendering, parsed by prometheus_client's own parser."""
    out = {}
    for family in text_string_to_metric_families(counters.render_text()):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def test_sums_deltas_under_the_standard_names() -> None:
    counters = ClaudeCodeCounters(NO_HOLD)
    counters.on_commit([cost(0.25), cost(0.125), cost(0.5, "claude-sonnet-4-5")])
    counters.on_commit(
        [
            fact("claude_code.lines_of_code.count", 10, type="added", model="claude-opus-4-6"),
            fact("claude_code.lines_of_code.count", 2, type="removed", model="claude-opus-4-6"),
            fact("claude_code.token.usage", 1000, type="input", model="m", query_source="main"),
            fact("claude_code.session.count", 1, start_type="fresh", **{"terminal.type": "vscode"}),
            fact("claude_code.code_edit_tool.decision", 1, tool_name="Edit", tool="Edit", decision="accept"),
            fact("claude_code.active_time.total", 30, type="user"),
            fact("claude_code.commit.count", 2),
            fact("claude_code.pull_request.count", 1),
            fact("claude_code.api_request.unknown", 5),  # not one of the eight: ignored
        ]
    )
    got = samples(counters)
    org = {("organization_id", "org-acme"), ("team", "core")}
    assert got[(COST, frozenset(org | {("model", "claude-opus-4-6"), ("query_source", "main")}))] == 0.375
    assert got[(COST, frozenset(org | {("model", "claude-sonnet-4-5"), ("query_source", "main")}))] == 0.5
    assert (
        got[
            (
                "claude_code_lines_of_code_count_total",
                frozenset(org | {("type", "added"), ("model", "claude-opus-4-6")}),
            )
        ]
        == 10
    )
    assert (
        got[
            (
                "claude_code_token_usage_tokens_total",
                frozenset(org | {("type", "input"), ("model", "m"), ("query_source", "main")}),
            )
        ]
        == 1000
    )
    assert (
        got[
            ("claude_code_session_count_total", frozenset(org | {("start_type", "fresh"), ("terminal_type", "vscode")}))
        ]
        == 1
    )
    assert (
        got[
            (
                "claude_code_code_edit_tool_decision_total",
                frozenset(org | {("tool_name", "Edit"), ("decision", "accept")}),
            )
        ]
        == 1
    )
    assert got[("claude_code_active_time_seconds_total", frozenset(org | {("type", "user")}))] == 30
    assert got[("claude_code_commit_count_total", frozenset(org))] == 2
    assert got[("claude_code_pull_request_count_total", frozenset(org))] == 1
    assert not any(name.startswith("claude_code_api") for name, _ in got)


def test_label_policy_never_session_nor_person_unless_enabled() -> None:
    counters = ClaudeCodeCounters(PrometheusExporterConfig())
    counters.on_commit([cost(1.0), cost(2.0, member=CAROL)])
    for (_, labels), _ in samples(counters).items():
        names = {name for name, _ in labels}
        assert not names & {"session_id", "user_id", "user_email", "member"}
    # Carol has no organization nor team: those labels are left out rather than empty.
    assert counters.values(COST)[frozenset({("model", "claude-opus-4-6"), ("query_source", "main")})] == 2.0

    with_members = ClaudeCodeCounters(PrometheusExporterConfig(member_labels=True))
    with_members.on_commit([cost(1.0), cost(2.0, member=CAROL)])
    members = {dict(labels)["member"]: value for labels, value in with_members.values(COST).items()}
    assert members == {"alice@example.com": 1.0, "c0ffee": 2.0}


def test_labels_only_where_the_metric_has_them_and_from_the_allow_list() -> None:
    config = PrometheusExporterConfig(labels=("model", "tool_name", "speed"))
    counters = ClaudeCodeCounters(config)
    counters.on_commit(
        [
            fact("claude_code.cost.usage", 1, model="m", speed="fast", query_source="main"),
            fact("claude_code.code_edit_tool.decision", 1, tool_name="Write", model="ignored", decision="accept"),
        ]
    )
    assert counters.values(COST) == {frozenset({("model", "m"), ("speed", "fast")}): 1.0}
    assert counters.values("claude_code_code_edit_tool_decision_total") == {frozenset({("tool_name", "Write")}): 1.0}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"labels": ("model", "session_id")}, "session_id is never exposed"),
        ({"labels": ("member",)}, "metrics.member_labels"),
        ({"labels": ("user_email",)}, "metrics.member_labels"),
        ({"labels": ("bad-name",)}, "not a valid Prometheus label name"),
        ({"labels": ("model", "model")}, "listed twice"),
        ({"max_series_per_metric": 1}, "at least 2"),
        ({"series_ttl_seconds": -1}, "0 (never) or more"),
        ({"gauge_cache_seconds": -1}, "0 or more"),
    ],
)
def test_config_refuses_unsafe_label_policies(kwargs: dict, message: str) -> None:
    with pytest.raises(PrometheusConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        PrometheusExporterConfig(**kwargs)


def test_the_cap_holds_under_a_flood_and_stays_exact_for_kept_series() -> None:
    counters = ClaudeCodeCounters(PrometheusExporterConfig(max_series_per_metric=100, new_series_hold_seconds=0))
    counters.on_commit([cost(3.0, "keep-me")])
    counters.on_commit([cost(0.5, f"flood-{index}") for index in range(5000)])
    counters.on_commit([cost(1.0, "keep-me"), cost(0.25, "flood-0"), cost(0.25, "flood-4999")])
    values = {dict(labels)["model"]: value for labels, value in counters.values(COST).items()}
    assert counters.series_count(COST) == len(values) == 100
    assert values["keep-me"] == 4.0  # exact for the series it keeps
    assert values["flood-0"] == 0.75
    assert sum(1 for model in values if model.startswith("flood-")) == 98
    folded = 5000 - 98
    assert values["other"] == folded * 0.5 + 0.25  # flood-4999 was folded, and stays folded
    assert sum(values.values()) == 3.0 + 1.0 + 5000 * 0.5 + 0.5  # exact in total
    assert counters.dropped(COST) == folded + 1
    other = dict(next(labels for labels in counters.values(COST) if dict(labels)["model"] == "other"))
    assert other == {name: "other" for name in ("organization_id", "model", "query_source", "team")}
    got = samples(counters)
    assert got[("cc_analytics_series_dropped_total", frozenset({("metric", COST)}))] == folded + 1
    assert got[("cc_analytics_exporter_series", frozenset({("metric", COST)}))] == 100
    # Other counters have their own cap.
    assert counters.series_count("claude_code_token_usage_tokens_total") == 0


def test_idle_series_expire_and_restart_from_zero() -> None:
    now = [1000.0]
    counters = ClaudeCodeCounters(PrometheusExporterConfig(series_ttl_seconds=60), clock=lambda: now[0])
    counters.on_commit([cost(1.0, "old"), cost(1.0, "busy")])
    now[0] += 50
    counters.on_commit([cost(1.0, "busy")])
    now[0] += 20  # "old" idle for 70 s, "busy" for 20 s
    counters.render_text()  # a scrape sweeps
    assert {dict(labels)["model"]: v for labels, v in counters.values(COST).items()} == {"busy": 2.0}
    counters.on_commit([cost(0.5, "old")])
    assert {dict(labels)["model"]: v for labels, v in counters.values(COST).items()} == {"busy": 2.0, "old": 0.5}


def test_expiry_frees_room_under_the_cap() -> None:
    now = [0.0]
    counters = ClaudeCodeCounters(
        PrometheusExporterConfig(max_series_per_metric=3, series_ttl_seconds=10), clock=lambda: now[0]
    )
    counters.on_commit([cost(1, "a"), cost(1, "b"), cost(1, "c")])
    assert counters.dropped(COST) == 1
    now[0] = 20
    assert counters.expire() == 3
    counters.on_commit([cost(1, "c")])
    assert counters.values(COST) == {
        frozenset({("organization_id", "org-acme"), ("team", "core"), ("model", "c"), ("query_source", "main")}): 1.0
    }


def test_no_expiry_with_ttl_zero() -> None:
    now = [0.0]
    counters = ClaudeCodeCounters(PrometheusExporterConfig(series_ttl_seconds=0), clock=lambda: now[0])
    counters.on_commit([cost(1.0)])
    now[0] = 10**9
    assert counters.expire() == 0
    assert counters.series_count(COST) == 1


def test_a_counter_never_goes_down() -> None:
    counters = ClaudeCodeCounters(PrometheusExporterConfig())
    counters.on_commit([cost(1.0), cost(-0.5), cost(float("nan")), cost(float("inf"))])
    assert list(counters.values(COST).values()) == [1.0]


def test_label_values_are_escaped() -> None:
    counters = ClaudeCodeCounters(NO_HOLD)
    counters.on_commit([cost(1.0, 'we"ird\\mo\ndel')])
    assert (
        counters.values(COST)
        and samples(counters)[
            (
                COST,
                frozenset(
                    {
                        ("organization_id", "org-acme"),
                        ("team", "core"),
                        ("model", 'we"ird\\mo\ndel'),
                        ("query_source", "main"),
                    }
                ),
            )
        ]
        == 1.0
    )


def test_fast_rendering_equals_the_collector_interface() -> None:
    counters = ClaudeCodeCounters(PrometheusExporterConfig())
    counters.on_commit([cost(0.25), cost(1.5, "x"), fact("claude_code.commit.count", 2)])
    registry = CollectorRegistry()
    registry.register(counters)
    through_registry = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
    }
    assert through_registry == samples(counters)


def test_golden_exposition() -> None:
    """The exact text of /metrics for a small input (testdata/counters.prom; CC_ANALYTICS_UPDATE_GOLDEN=1 rewrites it)."""
    exporter = create_exporter(NO_HOLD)
    exporter.on_commit(
        [
            cost(0.5),
            cost(0.125, "claude-haiku-4-5", CAROL),
            fact("claude_code.lines_of_code.count", 16, type="added", model="claude-opus-4-6"),
            fact(
                "claude_code.code_edit_tool.decision",
                1,
                tool_name="Write",
                decision="accept",
                source="config",
                language="Python",
            ),
            fact("claude_code.session.count", 1, start_type="fresh"),
        ],
        [],
    )
    text = exporter.render().decode()
    if os.environ.get("CC_ANALYTICS_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_events_are_counted_by_name_with_tool_success() -> None:
    from pdata import EventFact, LogEvent

    def event(name: str, **attributes: str) -> EventFact:
        attributes = {"session.id": "s", "prompt": "secret", **attributes}
        tool = attributes.get("tool_name", "")
        return EventFact(LogEvent(1, name, "", attributes, {}), ALICE, attributes, b"\0" * 16, 1, tool)

    counters = ClaudeCodeCounters(PrometheusExporterConfig(max_series_per_metric=4))
    counters.on_commit(
        [fact("events", 5)],  # a metric that happens to be called "events" is not an event
        [
            event("api_request", model="claude-opus-4-6"),
            event("api_request", model="claude-opus-4-6"),
            event("api_error", model="claude-opus-4-6", status_code="529"),
            event("tool_result", tool_name="Write", success="true"),
            event("tool_result", tool_name="Write", success="false"),
            event("user_prompt"),
        ],
    )
    base = {("organization_id", "org-acme"), ("team", "core")}
    values = counters.values("cc_analytics_events_total")
    assert values[frozenset(base | {("event_name", "api_request"), ("model", "claude-opus-4-6")})] == 2
    api_error = {("event_name", "api_error"), ("model", "claude-opus-4-6"), ("status_class", "5xx")}
    assert values[frozenset(base | api_error)] == 1
    assert values[frozenset(base | {("event_name", "tool_result"), ("tool_name", "Write"), ("success", "true")})] == 1
    other = frozenset(
        (name, "other")
        for name in (
            "event_name",
            "organization_id",
            "model",
            "tool_name",
            "decision",
            "team",
            "success",
            "status_class",
        )
    )
    assert values[other] == 2  # the cap (4) holds for events too
    assert counters.dropped("cc_analytics_events_total") == 2
    for labels in values:
        assert not {name for name, _ in labels} & {"session_id", "prompt"}
