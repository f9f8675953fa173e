"""Several collector replicas on one store stay exact: any replica may take any request.

Three collector processes store into one database of the test ClickHouse server (tests/support/clickhouse_http.py,
so `dedup.shared` is on by default: an http:// DSN), behind a loopback TCP load balancer of the test's own
(tests/support/balancer.py: one listener for OTLP/HTTP, one for OTLP/gRPC, a seeded random replica per
connection, never the previous connection's, so a failure replays). Every request of the known workload
(tests/support/workload.py, built with tests/support/otlp_raw.py) is sent through it on a new connection over
OTLP/HTTP (protobuf or JSON) or OTLP/gRPC, reaching a random replica, and then again, the same bytes on another
new connection, as a client retries after a lost answer: the balancer's recorded routes show that the retry
reached a different replica (a protobuf retry may switch between HTTP and gRPC: the digest is the body's).
Alice's metrics are exported cumulatively, as running totals, and her exports are routed to replicas
A → B → A → C: the third, on A, finds A's own state stale (B converted the second), and C has never seen her
series. Mid-load, after a scrape, replica B is SIGKILLed; the next connection is planned on B, which refuses it:
the balancer marks B down and the load goes on to the other two (a passive health check), until B is restarted
and takes requests again.

Then every replica's API answers exactly the workload's figures (totals, acceptance per tool, team view), and
a real Prometheus scraping the three gives, summed over the replicas, `increase()` of Claude Code's counters
equal to the API's figures (lines, spend, decisions per tool), and of `cc_analytics_otlp_requests_total
{status="duplicate"}` the number of retries recognised. Each replica's `increase()` is evaluated at the
timestamp of that replica's own latest scrape: Prometheus scrapes the three at different offsets, and at any
later time it would stretch the increase of the replica scraped earlier towards the evaluation time.

With `dedup.shared=false` (each replica on its own memory, as before shared state existed) the retries and the
alternating cumulative exports count again and this test fails.

The tests before it run replicas' processors and writers in this process (collector.app.build_chain and the
collector's Pipeline, on a store of the test server, as `cc-analytics run` wires them) to show the edges one at
a time: events, exact deltas of an alternating series, the series bound, a large group, a store that cannot
answer the check, and the dedup window of a request another replica committed.
"""

from __future__ import annotations

import math
import random
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse

from collector.app import build_chain
from collector.config import Config
from collector.config import load as load_config
from collector.pipeline import Pipeline, PipelineConfig
from console import readmodels
from exporters.clickhouse import ClickHouseStore, StoreUnavailable
from pdata import Batch, PointFact, Sender
from pdata.consumer import ConsumeResult, Unavailable
from receiver.otlp.ingest import decode
from tests.support import otlp_raw as otlp
from tests.support import workload
from tests.support.balancer import LoadBalancer, Route
from tests.support.clickhouse_http import ClickHouseHttpServer, collectors_on
from tests.support.collector import CollectorProcess, samples_of
from tests.support.prometheus import PrometheusServer

SEED = 9
REPLICAS = 3
# How long each replica shows a new counter series (and every counter after start-up) at 0 before its value. A
# scrape missed during the hold (three collectors on two loaded cores may answer a 1 s scrape too late) would
# leave Prometheus without the 0, and increase() without the series' first increment: 6 s outlast several.
HOLD_SECONDS = 6
A, B, C = 0, 1, 2
ALICE_ID = workload.ALICE["user.id"]

# Counters of the API's figures on /metrics, summed over replicas: (selector, expected).
COUNTERS = {
    "accepted lines": ('claude_code_lines_of_code_count_total{type="added"}', workload.EXPECTED_TOTALS["accepted_lines"]),
    "removed lines": ('claude_code_lines_of_code_count_total{type="removed"}', workload.EXPECTED_TOTALS["removed_lines"]),
    "spend": ("claude_code_cost_usage_USD_total", workload.EXPECTED_TOTALS["spend_usd"]),
    **{
        f"{tool} {decision}s": (
            f'claude_code_code_edit_tool_decision_total{{tool_name="{tool}", decision="{decision}"}}',
            figures[f"{decision}s"],
        )
        for tool, figures in workload.EXPECTED_BY_TOOL.items()
        for decision in ("accept", "reject")
    },
}  # fmt: skip


@dataclass(frozen=True)
class Export:
    """One OTLP request of the load: its document, and the replica it must go to first (None: a random one)."""

    signal: str
    document: dict[str, Any]
    first: int | None = None


# --- replicas in this process --------------------------------------------------------------------------------

ORG = "org-replicas"
_S = 1_000_000_000


class InProcessReplica:
    """One collector's processors and writer (collector.app.build_chain, collector.pipeline.Pipeline) on the
    shared store; `committed` collects the deltas of every group it commits, as /metrics is fed."""

    def __init__(self, store: ClickHouseStore, config: Config) -> None:
        self.chain = build_chain(config, store, {})
        self.committed: list[PointFact] = []
        self.last = ConsumeResult()  # the answer to the latest request sent
        self.pipeline = Pipeline(
            self.chain, store, PipelineConfig(), listeners=[lambda points, _events: self.committed.extend(points)]
        )
        self.pipeline.start()

    def send(self, document: dict[str, Any], signal: str = "metrics", received_ns: int | None = None) -> Batch:
        """Decode and deliver the JSON bytes of `document`; returns the batch (its `rejected` as answered)."""
        batch = decode(signal, otlp.to_json(document), "json", Sender()).batch
        assert batch is not None
        if received_ns is not None:
            batch.received_ns = received_ns
        self.last = self.pipeline.consume(batch).result(timeout=30)
        return batch

    def deltas(self) -> list[float]:
        return [fact.delta for fact in self.committed]

    def close(self) -> None:
        self.pipeline.close()


def _replicas(
    shared_store: tuple[ClickHouseStore, str], tmp_path: Path, count: int, **env: str
) -> list[InProcessReplica]:
    store, dsn = shared_store
    config = load_config(environ={"CC_ANALYTICS_STORAGE_DSN": dsn, "CC_ANALYTICS_DATA_DIR": str(tmp_path), **env})
    assert config.shared_state  # dedup.shared=auto on an http:// DSN
    return [InProcessReplica(store, config) for _ in range(count)]


def _lines(total: float, time_ns: int, start_ns: int, session: str = "s1") -> dict[str, Any]:
    """One cumulative point of an added-lines series: its running total."""
    attributes = {**otlp.who(ORG, session=session), "type": "added"}
    return otlp.metrics_request(
        [otlp.sum_metric(otlp.LINES, [otlp.point(total, attributes, time_ns, start_ns)], otlp.CUMULATIVE)]
    )


def test_a_request_one_replica_committed_is_a_duplicate_on_the_others(shared_store, tmp_path: Path) -> None:
    a, b = _replicas(shared_store, tmp_path, 2)
    edit = otlp.edit_request(ORG, lines=7, cost=0.5)
    events = otlp.logs_request(ORG, ["user_prompt", "api_request"])
    try:
        a.send(edit)
        a.send(events, "logs")
        assert not a.last.duplicate and sorted(a.deltas()) == [0.5, 1, 1, 7]
        b.send(edit)  # a retry that reached another replica: acknowledged, not counted
        assert b.last.duplicate and b.deltas() == []
        b.send(events, "logs")  # events carry their request's digest too
        assert b.last.duplicate
        b.send(otlp.edit_request(ORG, lines=3))  # new data on B counts
        assert not b.last.duplicate and sorted(b.deltas()) == [1, 1, 3]
    finally:
        a.close()
        b.close()
    store, _ = shared_store
    totals = readmodels.analytics(store, *_today_range(), ORG, "")["totals"]
    assert (totals["accepted_lines"], totals["accepts"], totals["spend_usd"]) == (10, 2, 0.5)


def test_a_cumulative_series_alternating_replicas_converts_to_exact_deltas(shared_store, tmp_path: Path) -> None:
    a, b, c = _replicas(shared_store, tmp_path, 3)
    start, t = time.time_ns() - 60 * _S, time.time_ns() - 50 * _S
    try:
        a.send(_lines(10, t, start))
        b.send(_lines(15, t + 1 * _S, start))  # B has never seen the series: from A's stored 10
        a.send(_lines(16, t + 2 * _S, start))  # A's own last state (10) is stale: from B's stored 15
        c.send(_lines(16, t + 3 * _S, start))  # unchanged since the stored 16: nothing
        b.send(_lines(20, t + 4 * _S, start))  # B's own last state (15) is stale: from A's stored 16
        c.send(_lines(3, t + 5 * _S, t + 4 * _S + 1))  # the client restarted (new start time): counts in full
        a.send(_lines(14, t + _S // 2, start))  # a point older than the stored state, sent late: adds nothing
    finally:
        for replica in (a, b, c):
            replica.close()
    assert (a.deltas(), b.deltas(), c.deltas()) == ([10, 1], [5, 4], [3])


def test_the_series_bound_holds_with_the_shared_state(shared_store, tmp_path: Path) -> None:
    """temporality.max_series=1 on A and B: a series held at the bound still takes the newer stored state, and a
    series known only to the store counts towards the bound like any new series."""
    a, b = _replicas(shared_store, tmp_path, 2, CC_ANALYTICS_TEMPORALITY_MAX_SERIES="1")
    (c,) = _replicas(shared_store, tmp_path, 1)
    t = time.time_ns() - 50 * _S
    try:
        a.send(_lines(10, t, t - _S, session="s1"))
        b.send(_lines(12, t + _S, t - _S, session="s1"))
        a.send(_lines(15, t + 2 * _S, t - _S, session="s1"))  # A is at its bound: s1's state is still refreshed
        b.send(_lines(16, t + 3 * _S, t - _S, session="s1"))
        c.send(_lines(5, t, t - _S, session="s2"))
        refused = b.send(_lines(7, t + _S, t - _S, session="s2"))
        # Taking s2's stored state would exceed B's bound, and converting without it would count 7 again.
        assert refused.rejected == 1 and "temporality.max_series" in refused.rejected_reason
        c.send(_lines(7, t + _S, t - _S, session="s2"))
    finally:
        for replica in (a, b, c):
            replica.close()
    assert (a.deltas(), b.deltas(), c.deltas()) == ([10, 3], [2, 1], [5, 2])


def test_a_large_group_is_checked_against_the_store_in_one_go(shared_store, tmp_path: Path) -> None:
    """2 000 cumulative series in one request: their keys and the request's digest go to the server as
    parameters of one query each (clickhouse-connect sends large ones in the body)."""
    a, b = _replicas(shared_store, tmp_path, 2)
    t = time.time_ns() - 50 * _S

    def export(total: float, time_ns: int) -> dict[str, Any]:
        points = [
            otlp.point(total, {**otlp.who(ORG, session=f"s{index}"), "type": "added"}, time_ns, t - _S)
            for index in range(2_000)
        ]
        return otlp.metrics_request([otlp.sum_metric(otlp.LINES, points, otlp.CUMULATIVE)])

    try:
        a.send(export(5, t))
        b.send(export(7, t + _S))
    finally:
        a.close()
        b.close()
    assert (sum(a.deltas()), len(b.deltas()), set(b.deltas())) == (10_000, 2_000, {2})


def test_a_store_that_cannot_answer_the_check_gets_nothing_acknowledged(shared_store, tmp_path: Path) -> None:
    store, _ = shared_store
    (replica,) = _replicas(shared_store, tmp_path, 1)
    batch = decode("metrics", otlp.to_json(otlp.edit_request(ORG, lines=7)), "json", Sender()).batch
    assert batch is not None
    store.close()  # the store went away: the check cannot be made, so nothing may be counted or acknowledged
    try:
        with pytest.raises(StoreUnavailable, match="stored_request_digests"):
            replica.chain.process([batch])
        with pytest.raises(Unavailable, match="store unavailable, nothing was kept"):
            replica.pipeline.consume(batch).result(timeout=30)
    finally:
        replica.close()
    assert replica.deltas() == []


def test_a_request_another_replica_committed_leaves_the_window_by_its_own_arrival(shared_store, tmp_path) -> None:
    a, b = _replicas(shared_store, tmp_path, 2, CC_ANALYTICS_DEDUP_WINDOW_SECONDS="60")
    now = time.time_ns()
    older, newer = otlp.edit_request(ORG, lines=1), otlp.edit_request(ORG, lines=2)
    try:
        first = a.send(older, received_ns=now - 30 * _S)  # committed by A 30 s ago
        second = b.send(newer, received_ns=now)
        b.send(older, received_ns=now)  # the retry reaches B, which learns it from the store
        assert b.last.duplicate
    finally:
        a.close()
        b.close()
    window = b.chain.deduplicator
    window.expire(now + 31 * _S)  # 61 s after A took it, 31 s after B's own request
    assert not window.seen(first.digest) and window.seen(second.digest)


# --- the workload as requests --------------------------------------------------------------------------------


def _delta_export(increments: list[workload.Increment]) -> Export:
    now = time.time_ns()
    by_metric: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for increment in increments:
        by_metric[increment.metric].append(otlp.point(increment.value, increment.attributes, now))
    metrics = [
        otlp.sum_metric(name, points, otlp.DELTA, workload.UNITS.get(name, "")) for name, points in by_metric.items()
    ]
    return Export("metrics", otlp.metrics_request(metrics))


def _cumulative_export(totals: dict[tuple[str, tuple], float], start_ns: int, first: int) -> Export:
    """Every series seen so far with its running total, as a cumulative exporter sends at each interval."""
    now = time.time_ns()
    by_metric: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (metric, attributes), total in totals.items():
        by_metric[metric].append(otlp.point(total, dict(attributes), now, start_ns))
    metrics = [
        otlp.sum_metric(name, points, otlp.CUMULATIVE, workload.UNITS.get(name, ""))
        for name, points in by_metric.items()
    ]
    return Export("metrics", otlp.metrics_request(metrics), first)


class Load:
    """The workload's phases as requests: one delta request per member and phase (Bob, Carol), Alice's running
    totals after each phase (with one idle re-export between the second and third), then the events."""

    def __init__(self) -> None:
        self._start_ns = time.time_ns()
        self._alice: dict[tuple[str, tuple], float] = {}

    def phase(self, index: int, alice_first: list[int]) -> list[Export]:
        others: dict[str, list[workload.Increment]] = defaultdict(list)
        for increment in workload.PHASES[index]:
            if increment.attributes["user.id"] == ALICE_ID:
                key = (increment.metric, tuple(sorted(increment.attributes.items())))
                self._alice[key] = self._alice.get(key, 0.0) + increment.value
            else:
                others[increment.attributes["session.id"]].append(increment)
        exports = [_delta_export(increments) for increments in others.values()]
        for first in alice_first:
            exports.append(_cumulative_export(self._alice, self._start_ns, first))
            time.sleep(0.002)  # the next export's timestamp is strictly later
        return exports

    @staticmethod
    def events() -> Export:
        return Export("logs", workload.events_json())


# --- sending -------------------------------------------------------------------------------------------------

PROTOCOLS = ("http/protobuf", "http/json", "grpc")
# A fresh gRPC channel must open a connection of its own: gRPC otherwise shares a connected subchannel between
# channels to the same target, and the retry would reuse the first attempt's connection, hence its replica.
_OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]


@dataclass(frozen=True)
class Sent:
    """One export as the replicas saw it: the protocols of both attempts and the balancer's two routes."""

    signal: str
    protocols: tuple[str, str]
    routes: tuple[Route, Route]

    def __str__(self) -> str:
        (first, retry), (to_first, to_retry) = self.protocols, self.routes
        return f"{self.signal}: {first} to {_replica(to_first)}, retried with {retry} to {_replica(to_retry)}"


def _replica(route: Route) -> str:
    refused = "".join(f" ({'ABC'[index]} refused)" for index in route.refused)
    return ("ABC"[route.backend] if route.backend is not None else "nowhere") + refused


class Client:
    """A client of the replicas through the load balancer: each export on a new connection, then again, the
    same bytes on another new connection, as a client retries after a lost answer (a protobuf retry may switch
    between HTTP and gRPC: the digest is the body's)."""

    def __init__(self, balancer: LoadBalancer) -> None:
        self.balancer = balancer
        self.random = random.Random(SEED)
        self.sent: list[Sent] = []

    @property
    def retries(self) -> int:
        return len(self.sent)

    def send_twice(self, export: Export) -> Sent:
        protocol = self.random.choice(PROTOCOLS)
        retry_protocol = protocol
        if protocol != "http/json":  # the same protobuf bytes, over either transport
            retry_protocol = self.random.choice(["http/protobuf", "grpc"])
        body = (
            otlp.to_json(export.document)
            if protocol == "http/json"
            else otlp.to_protobuf(export.document, export.signal)
        )
        before = len(self.balancer.routes)
        if export.first is not None:
            self.balancer.route_next(export.first)
        self._deliver(protocol, export.signal, body)
        self._deliver(retry_protocol, export.signal, body)
        routes = self.balancer.routes_since(before)
        assert len(routes) == 2, routes  # one connection per attempt
        sent = Sent(export.signal, (protocol, retry_protocol), (routes[0], routes[1]))
        self.sent.append(sent)
        first, retry = routes
        assert (first.listener, retry.listener) == (_listener(protocol), _listener(retry_protocol)), sent
        assert first.backend is not None and retry.backend is not None and first.backend != retry.backend, sent
        assert export.first is None or first.backend == export.first, sent
        return sent

    def _deliver(self, protocol: str, signal: str, body: bytes) -> None:
        """Send the bytes and require an acknowledgement with nothing refused (a recognised retry is one too)."""
        if protocol == "grpc":
            with grpc.insecure_channel(self.balancer.target("grpc"), options=_OWN_CONNECTION) as channel:
                call = channel.unary_unary(
                    otlp.GRPC_METHODS[signal], request_serializer=None, response_deserializer=None
                )
                answer = call(body, timeout=30)
            response = (ExportMetricsServiceResponse if signal == "metrics" else ExportLogsServiceResponse).FromString(
                answer
            )
            assert not response.HasField("partial_success"), response
            return
        content_type = otlp.CONTENT_TYPES["json" if protocol == "http/json" else "protobuf"]
        response = httpx.post(  # no shared client: a new connection
            f"{self.balancer.url('http')}/v1/{signal}", content=body, headers={"content-type": content_type}, timeout=30
        )
        assert response.status_code == 200, (response.status_code, response.content)
        assert b"rejected" not in response.content.lower(), response.content


def _listener(protocol: str) -> str:
    return "grpc" if protocol == "grpc" else "http"


# --- reading -------------------------------------------------------------------------------------------------


def _today_range() -> tuple[date, date]:
    today = datetime.now(UTC).date()
    return today - timedelta(days=1), today


def _api_figures(replica: CollectorProcess) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    report = replica.analytics(*_today_range())
    members = {
        row["member"]: (row["member_type"], row["spend_usd"], row["accepted_lines"], row["sessions"])
        for row in replica.team(today.strftime("%Y-%m"))["members"]
    }
    return {"totals": report["totals"], "by_tool": report["acceptance_by_tool"], "team": members}


def _with_instance(selector: str, instance: str) -> str:
    matcher = f'instance="{instance}"'
    if selector.endswith("}"):
        return selector[:-1] + f", {matcher}}}"
    return f"{selector}{{{matcher}}}"


def _summed_increase(server: PrometheusServer, selector: str, range_s: int) -> float:
    """Σ over replicas of `sum(increase(selector[range]))`, each evaluated at its replica's latest scrape."""
    total = 0.0
    for labels, at in server.query(f'timestamp(up{{job="{server.job}"}})'):
        result = server.query(f"sum(increase({_with_instance(selector, labels['instance'])}[{range_s}s]))", at=at)
        total += result[0][1] if result else 0.0
    return total


def _gauge(replica: CollectorProcess, name: str) -> float:
    samples = samples_of(httpx.get(replica.metrics_url, timeout=10).text, name, window="1d")
    assert len(samples) == 1, f"{name} on {replica.metrics_url}: {samples}"
    return samples[0].value


# --- the test ------------------------------------------------------------------------------------------------


@pytest.fixture
def replicas(tmp_path: Path, clickhouse_server: ClickHouseHttpServer) -> Iterator[list[CollectorProcess]]:
    """Three collectors on one database of the test ClickHouse server."""
    with collectors_on(clickhouse_server.dsn(clickhouse_server.new_database("replicas"))):
        processes = [
            CollectorProcess(
                data_dir=tmp_path / f"replica-{index}",
                # The derived gauges reread the store every second, so each replica shows the final figures soon.
                extra_env={
                    "CC_ANALYTICS_METRICS_GAUGE_CACHE_SECONDS": "1",
                    "CC_ANALYTICS_METRICS_NEW_SERIES_HOLD_SECONDS": str(HOLD_SECONDS),
                },
            )
            for index in range(REPLICAS)
        ]
        try:
            for process in processes:
                process.start()
            yield processes
        finally:
            for process in processes:
                process.kill()


@pytest.mark.prometheus
def test_replicas_on_one_store_count_every_request_once(replicas: list[CollectorProcess], tmp_path: Path) -> None:
    started = time.time()
    backends = [{"http": replica.http_port, "grpc": replica.grpc_port} for replica in replicas]
    with (
        PrometheusServer(targets=[replica.metrics_url for replica in replicas], workdir=tmp_path / "prom") as prom,
        LoadBalancer(backends, seed=SEED, down_seconds=5) as balancer,
    ):
        # Scraping before the first request, so that Prometheus records every new series' 0 (held HOLD_SECONDS).
        prom.wait_for_scrape(settle=0)
        client = Client(balancer)
        load = Load()
        # Alice's cumulative exports: running totals after phase 1 on A, after phase 2 on B, the same totals
        # re-exported (idle) on A, whose own last state is phase 1's, then after phase 3 on C, new to her series.
        for export in load.phase(0, alice_first=[A]) + load.phase(1, alice_first=[B, A]):
            client.send_twice(export)

        # B's counters are scraped past their hold before it dies: nothing it committed goes unscraped.
        prom.wait_for_scrape(settle=HOLD_SECONDS + 0.1)
        replicas[B].kill()
        assert replicas[B].process.returncode == -9
        bob, alice = load.phase(2, alice_first=[C])
        # Bob's export is planned on B: B refuses the connection, is marked down, and both attempts go elsewhere.
        balancer.route_next(B)
        sent = client.send_twice(bob)
        assert sent.routes[0].refused == (B,) and B not in {route.backend for route in sent.routes}, sent
        assert balancer.connect_failures >= 1
        replicas[B].start()
        client.send_twice(alice)
        sent = client.send_twice(replace(load.events(), first=B))  # B is back and takes requests again
        assert sent.routes[0] == Route(_listener(sent.protocols[0]), B), sent
        print("\n".join(["routes through the load balancer:", *map(str, client.sent)]))

        for index, replica in enumerate(replicas):
            figures = _api_figures(replica)
            workload.assert_totals(figures["totals"], workload.EXPECTED_WITH_EVENTS)
            assert figures["by_tool"] == workload.EXPECTED_BY_TOOL, (index, client.sent)
            assert figures["team"] == workload.EXPECTED_TEAM_WITH_EVENTS, (index, client.sent)

        prom.wait_for_scrape(settle=HOLD_SECONDS + 0.1)
        range_s = math.ceil(time.time() - started) + 5
        for figure, (selector, expected) in COUNTERS.items():
            assert _summed_increase(prom, selector, range_s) == pytest.approx(expected, abs=1e-9), (
                figure,
                client.sent,
            )
        # Every retry was recognised, whichever replica it reached, except the retry of Alice's idle re-export:
        # it stored no row (nothing had changed), so no replica holds its digest, and converting it again
        # against the shared state adds nothing either (answered ok).
        duplicates = _summed_increase(prom, 'cc_analytics_otlp_requests_total{status="duplicate"}', range_s)
        assert duplicates == client.retries - 1

        # The derived gauges read the one store: every replica shows the same figures (dashboards take `max`).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            lines = [_gauge(replica, "cc_analytics_accepted_lines") for replica in replicas]
            spend = [_gauge(replica, "cc_analytics_spend_usd") for replica in replicas]
            if lines == [workload.EXPECTED_TOTALS["accepted_lines"]] * REPLICAS and spend == [0.875] * REPLICAS:
                break
            time.sleep(0.5)
        assert lines == [workload.EXPECTED_TOTALS["accepted_lines"]] * REPLICAS
        assert spend == [pytest.approx(workload.EXPECTED_TOTALS["spend_usd"], abs=1e-9)] * REPLICAS
