"""Analytics answers kept until a commit changes them, on the real collector and store: a question asked again
before its organization's rows are committed is answered from memory, and what a commit acknowledged is in the
very next answer."""

from __future__ import annotations

import time

from collector.pipeline import Pipeline, PipelineConfig
from console.answers import KeptAnswers
from exporters.clickhouse import ClickHouseStore
from pdata import Batch, MetricPoint, Sender
from pdata.vocabulary import API_ANSWERS
from processors.chain import ProcessorChain
from processors.dedup import RequestDeduplicator
from processors.identity import IdentityResolver
from processors.temporality import CumulativeToDelta
from tests.conftest import store_of_the_run
from tests.support import otlp_raw as otlp
from tests.support.collector import CollectorProcess


def _answers(collector: CollectorProcess) -> dict[str, float]:
    """The collector's analytics answers so far by source (kept, computed), from its /metrics."""
    return {sample.labels["source"]: sample.value for sample in collector.metric_samples(API_ANSWERS.sample)}


def test_an_answer_asked_again_before_a_commit_is_kept_and_the_next_commit_is_in_the_next_answer(
    collector: CollectorProcess, org: str
) -> None:
    otlp.send(collector, "http/protobuf", otlp.edit_request(org, lines=10, session="s1"))
    before = _answers(collector)
    assert otlp.figures(collector, org) == otlp.edit_figures(10)
    assert otlp.figures(collector, org) == otlp.edit_figures(10)
    after = _answers(collector)
    asked = {source: after[source] - before[source] for source in ("kept", "computed")}
    embedded = store_of_the_run() == "embedded"  # on a ClickHouse server other collectors may commit: none kept
    assert asked == ({"kept": 1, "computed": 1} if embedded else {"kept": 0, "computed": 2})

    # Acknowledged (queue.mode=memory) means committed: the very next answer has it, nothing kept from before.
    otlp.send(collector, "grpc", otlp.edit_request(org, lines=0, session="s2", decision="reject"))
    assert otlp.figures(collector, org) == otlp.edit_figures(10, accepts=1, rejects=1, sessions=2)
    start, end = otlp.day_range()
    assert collector.analytics(start, end, org=org)["totals"]["acceptance_rate"] == 0.5
    assert _answers(collector)["computed"] - after["computed"] == (1 if embedded else 2)


def test_a_commit_of_another_organization_leaves_an_answer_kept(collector: CollectorProcess, org: str) -> None:
    other = org + "-other"
    otlp.send(collector, "http/protobuf", otlp.edit_request(org, lines=10, session="s1"))
    assert otlp.figures(collector, org) == otlp.edit_figures(10)
    before = _answers(collector)
    otlp.send(collector, "http/protobuf", otlp.edit_request(other, lines=6, session="s9"))
    assert otlp.figures(collector, org) == otlp.edit_figures(10)
    assert otlp.figures(collector, other) == otlp.edit_figures(6)
    start, end = otlp.day_range()
    every = collector.analytics(start, end)["totals"]  # all organizations: this test's collector has only these
    assert (every["accepted_lines"], every["active_users"], every["sessions"]) == (16, 2, 2)
    after = _answers(collector)
    asked = {source: after[source] - before[source] for source in ("kept", "computed")}
    embedded = store_of_the_run() == "embedded"
    assert asked == ({"kept": 1, "computed": 2} if embedded else {"kept": 0, "computed": 3})


def test_a_commit_makes_the_kept_answers_forgotten_before_its_requests_are_acknowledged(store: ClickHouseStore) -> None:
    # The pipeline over the real chain and store: what a sender is told is committed is never answered from
    # kept answers computed before it.
    answers = KeptAnswers(8)
    answers.answer("all", "", lambda: {"accepted_lines": 0})
    chain = ProcessorChain(IdentityResolver(), CumulativeToDelta(), RequestDeduplicator(10**15))
    acknowledged_when_forgotten: list[bool] = []
    pipeline = Pipeline(
        chain,
        store,
        PipelineConfig(),
        before_answers=[answers.committed, lambda *_: acknowledged_when_forgotten.append(sent.done())],
    )
    now = time.time_ns()
    attributes = {"session.id": "s1", "user.email": "alice@example.com", "type": "added"}
    point = MetricPoint("claude_code.lines_of_code.count", "count", 1, True, now - 1, now, 16.0, attributes, {})
    sent = pipeline.consume(
        Batch(signal="metrics", digest=b"r1".ljust(16, b"\0"), sender=Sender(), received_ns=now, points=[point])
    )
    pipeline.start()  # started after the request is handed over: one group
    try:
        assert sent.result(timeout=30).duplicate is False
    finally:
        pipeline.close()
    assert acknowledged_when_forgotten == [False]
    assert answers.answer("all", "", lambda: {"accepted_lines": 16}) == {"accepted_lines": 16}
