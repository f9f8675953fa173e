"""The load generator's traffic is accepted and its totals are what the collector's API reports.

So the benchmark measures correct work: every acknowledged request of every protocol and shape adds up,
figure by figure, to the analytics and team views. Not timed; timings belong to `make bench`.
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from loadgen import PROTOCOLS, Tally, Workload, run
from loadgen.direct import run_direct
from loadgen.templates import Population
from tests.support.collector import CollectorProcess

RUNS = [  # (protocol, shape, requests)
    ("grpc", "client", 300),
    ("grpc", "gateway", 8),
    ("http/protobuf", "client", 200),
    ("http/protobuf", "gateway", 6),
    ("http/json", "client", 200),
    ("http/json", "gateway", 4),
]


def _send(collector: CollectorProcess, protocol: str, shape: str, requests: int, seed: int) -> Tally:
    url = collector.otlp_grpc_url if protocol == "grpc" else collector.otlp_http_url
    workload = Workload(120, protocol, shape, gateway_batch=40, seed=seed, organization="org-bench")
    result = asyncio.run(
        run(
            workload.requests(),
            url=url,
            protocol=protocol,
            shape=shape,
            total_requests=requests,
            concurrency=16,
            progress=False,
        )
    )
    assert result.failed == 0, result.summary()
    assert result.succeeded == requests, result.summary()
    assert set(result.attempts) <= {"OK", "200"}, result.summary()
    return result.accepted


@pytest.fixture
def loaded(collector: CollectorProcess) -> tuple[CollectorProcess, Tally]:
    expected = Tally()
    for seed, (protocol, shape, requests) in enumerate(RUNS, start=1):
        expected.add(_send(collector, protocol, shape, requests, seed))
    return collector, expected


def test_loadgen_traffic_is_accepted_and_its_totals_match_the_api(loaded) -> None:
    collector, expected = loaded
    assert expected.points > 0 and expected.records > 0
    assert expected.accepted_lines > 0 and expected.accepts > 0 and expected.rejects > 0
    assert expected.spend_micros > 0 and len(expected.sessions) > 1 and len(expected.members) > 1
    today = datetime.now(UTC).date()
    # a day either side: the run may straddle midnight UTC; totals count members and sessions once.
    report = collector.analytics(today - timedelta(days=1), today + timedelta(days=1))
    totals = report["totals"]
    want = expected.figures()
    assert totals["accepted_lines"] == want["accepted_lines"]
    assert totals["removed_lines"] == want["removed_lines"]
    assert totals["accepts"] == want["accepts"]
    assert totals["rejects"] == want["rejects"]
    assert totals["active_users"] == want["active_users"]
    assert totals["sessions"] == want["sessions"]
    assert math.isclose(totals["spend_usd"], expected.spend_usd, rel_tol=1e-9, abs_tol=1e-6)
    assert math.isclose(totals["acceptance_rate"], want["acceptance_rate"], rel_tol=1e-12)
    by_tool = report["acceptance_by_tool"]
    assert sum(tool["accepts"] for tool in by_tool.values()) == want["accepts"]
    assert sum(tool["rejects"] for tool in by_tool.values()) == want["rejects"]


def test_loadgen_totals_match_the_team_view(loaded) -> None:
    collector, expected = loaded
    now = datetime.now(UTC)
    members = collector.team(f"{now.year:04d}-{now.month:02d}")["members"]
    if now.day == 1 and now.hour == 0:  # the run may have started last month
        pytest.skip("too close to a month boundary to compare one month")
    assert {(row["member_type"], row["member"]) for row in members} == expected.members
    assert sum(row["accepted_lines"] for row in members) == expected.accepted_lines
    assert math.isclose(sum(row["spend_usd"] for row in members), expected.spend_usd, rel_tol=1e-9, abs_tol=1e-6)
    # a member's sessions are distinct per member; sessions belong to one member each here
    assert sum(row["sessions"] for row in members) == len(expected.sessions)


def _client_sockets_to(port: int) -> int:
    """Established TCP connections whose far end is 127.0.0.1:`port` (the clients' side of them); grpcio's
    sockets are IPv6 ones with the IPv4-mapped address (/proc/net/tcp6)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[2].endswith(f"0100007F:{port:04X}") and fields[3] == "01":
                count += 1
    return count


def test_per_developer_mode_opens_a_connection_each_and_its_totals_match_the_api(collector: CollectorProcess) -> None:
    """`--connections per-developer`: every developer on its own connection, its minute of exports replayed with
    fresh timestamps (each replay counts again), the acknowledged totals equal to the API's, on every protocol."""
    developers = 40
    expected = Tally()
    grpc_connections: list[int] = []
    for seed, protocol in enumerate(PROTOCOLS, start=1):
        templates = Population(protocol, seed=seed, organization=f"org-direct-{seed}").templates(developers)
        url = collector.otlp_grpc_url if protocol == "grpc" else collector.otlp_http_url

        def connected(protocol: str = protocol) -> None:
            if protocol == "grpc":  # made before the clock starts, one per developer
                grpc_connections.append(_client_sockets_to(collector.grpc_port))

        # Each minute of exports played in 3 s, for a little over two minutes: every export is sent two or
        # three times, each time as a new request.
        result = asyncio.run(
            run_direct(templates, developers=developers, url=url, protocol=protocol, duration_s=7.0, speed=20.0,
                       progress=False, on_start=connected)
        )  # fmt: skip
        assert result.failed == 0, result.summary()
        assert set(result.attempts) <= {"OK", "200"}, result.summary()
        assert result.succeeded == result.sent > 2 * len(templates), result.summary()
        assert result.connections == developers
        assert result.opened >= developers if protocol == "grpc" else result.opened >= 1
        expected.add(result.accepted)
    assert grpc_connections == [developers]
    assert expected.points > 0 and expected.records > 0 and expected.accepts > 0
    today = datetime.now(UTC).date()
    totals = collector.analytics(today - timedelta(days=1), today + timedelta(days=1))["totals"]
    want = expected.figures()
    for figure in ("accepted_lines", "removed_lines", "accepts", "rejects", "active_users", "sessions"):
        assert totals[figure] == want[figure], figure
    assert math.isclose(totals["spend_usd"], expected.spend_usd, rel_tol=1e-9, abs_tol=1e-6)
