"""SIGKILL under a live load (`queue.mode=wal`, `--workers 2`): the load generator sends Claude Code's exports at
~100 requests a second, 8 in flight, over gRPC or OTLP/HTTP, while the collector is killed three times at random
moments and started again on the same data directory and ports. The load generator does what an OTLP exporter
does: the same bytes again after an answer the OTLP specification has exporters retry or a broken connection,
until the request is acknowledged. Every request is acknowledged in the end, and the API's figures equal those
of everything acknowledged: none of what a killed collector had taken is lost, none of what was sent again is
counted twice.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from pathlib import Path

import pytest

from bench.common import missing, visible
from loadgen import RunResult, Workload, run
from tests.support.children import wait_for
from tests.support.collector import CollectorProcess, process_alive

WORKERS = {"CC_ANALYTICS_QUEUE_MODE": "wal", "CC_ANALYTICS_WORKERS": "2"}
RATE = 100.0  # requests a second
LOAD_S = 20.0
KILLS = 3


def _kill_and_restart(collector: CollectorProcess) -> None:
    workers = collector.worker_pids()
    collector.kill()
    # The ports are free once its workers are gone.
    wait_for(lambda: not any(process_alive(pid) for pid in workers), "a worker outlived its collector")
    collector.start()


@pytest.mark.parametrize(("protocol", "seed"), [("grpc", 11), ("http/protobuf", 12)])
def test_three_kills_under_load_lose_nothing_acknowledged_and_count_nothing_twice(
    tmp_path: Path, protocol: str, seed: int
) -> None:
    collector = CollectorProcess(data_dir=tmp_path / "data", extra_env=WORKERS).start()
    url = collector.otlp_grpc_url if protocol == "grpc" else collector.otlp_http_url
    workload = Workload(300, protocol, "client", seed=seed, organization="org-kills")
    results: list[RunResult] = []

    def load() -> None:
        results.append(
            asyncio.run(
                run(workload.requests(), url=url, protocol=protocol, rate=RATE, concurrency=8, duration_s=LOAD_S,
                    max_attempts=100, progress=False)
            )
        )  # fmt: skip

    sender = threading.Thread(target=load)
    moments = random.Random(seed)
    try:
        sender.start()
        for _ in range(KILLS):
            time.sleep(moments.uniform(1.0, 3.0))
            _kill_and_restart(collector)
        sender.join(timeout=LOAD_S + 300)
        assert results, "the load generator did not finish"
        summary = results[0].summary()
        # A live load throughout, not a rate: each restart and the senders' reconnection back-off stall the 8 in
        # flight for seconds, longer on a busy machine, so fewer than the 2 000 scheduled are sent.
        assert (summary["requests_failed"], summary["requests_ok"] > 500) == (0, True), summary
        # The kills met requests in flight or arriving: refused, reset or cancelled, then sent again.
        assert set(summary["answers"]) - {"OK", "200"}, summary["answers"]
        acknowledged = results[0].accepted
        assert acknowledged.accepted_lines > 0 and acknowledged.spend_micros > 0 and len(acknowledged.sessions) > 1
        matched, _, totals = visible(collector, acknowledged, timeout_s=120)
        assert matched, (missing(totals, acknowledged), summary)
    finally:
        collector.kill()
