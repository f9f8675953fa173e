"""SIGKILL under a live load (`queue.mode=wal`, `--workers 2`): 8 senders deliver the load generator's Claude Code
exports, each over its own connection at up to 20 requests a second, while the collector is killed three times at
random moments and started again on the same data directory and ports. Each sender does what an OTLP exporter
does: the same bytes again after an answer that asks for a retry or a broken connection, until the request is
acknowledged. The API's figures then equal those of every request taken, each acknowledged in the end: none of
what a killed collector had taken is lost, none of what a sender sent again is counted twice.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from loadgen import Request, Tally, Workload
from tests.support.children import eventually, wait_for
from tests.support.collector import CollectorProcess, process_alive
from tests.support.otlp_raw import GRPC_METHODS

WORKERS = {"CC_ANALYTICS_QUEUE_MODE": "wal", "CC_ANALYTICS_WORKERS": "2"}
SENDERS = 8
PACE_S = 0.05  # between a sender's acknowledged request and its next
KILLS = 3
# A channel of its own opens a connection of its own (grpcio otherwise shares one among a process's channels).
_OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]
# Retried as an OTLP exporter retries them (the OTLP specification's retryable gRPC codes; HTTP 429 and 503).
_RETRY_GRPC = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.ABORTED,
}


class Senders:
    """SENDERS threads taking the workload's requests in turn until told to stop, each delivered until
    acknowledged."""

    def __init__(self, collector: CollectorProcess, protocol: str, requests: Iterator[Request]) -> None:
        self.collector = collector
        self.protocol = protocol
        self._requests = requests
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.acknowledged = Tally()
        self.answers: dict[str, int] = {}
        self.errors: list[str] = []
        self._threads = [threading.Thread(target=self._send_all, daemon=True) for _ in range(SENDERS)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout_s: float) -> None:
        """No request is taken any more; those taken are delivered until acknowledged."""
        self._stop.set()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        assert not any(thread.is_alive() for thread in self._threads), "the senders did not finish"

    def _next(self) -> Request | None:
        if self._stop.wait(PACE_S):
            return None
        with self._lock:
            return next(self._requests)

    def _count(self, answer: str) -> None:
        with self._lock:
            self.answers[answer] = self.answers.get(answer, 0) + 1

    def _send_all(self) -> None:
        try:
            if self.protocol == "grpc":
                self._send_grpc()
            else:
                self._send_http()
        except Exception as error:  # reported by the test, not lost in a thread
            self.errors.append(repr(error))

    def _send_grpc(self) -> None:
        with grpc.insecure_channel(self.collector.grpc_target, options=_OWN_CONNECTION) as channel:
            calls = {signal: channel.unary_unary(path) for signal, path in GRPC_METHODS.items()}
            while (request := self._next()) is not None:
                for _ in range(600):
                    try:
                        calls[request.signal](request.body, timeout=30)
                    except grpc.RpcError as error:
                        code = error.code()  # type: ignore[attr-defined]
                        self._count(code.name)
                        assert code in _RETRY_GRPC, f"{code.name}: {error}"
                        time.sleep(0.1)
                        continue
                    self._count("OK")
                    self._acknowledged(request)
                    break
                else:
                    raise AssertionError("a request never acknowledged")

    def _send_http(self) -> None:
        with httpx.Client(base_url=self.collector.otlp_http_url, timeout=30) as client:
            while (request := self._next()) is not None:
                for _ in range(600):
                    try:
                        response = client.post(
                            f"/v1/{request.signal}",
                            content=request.body,
                            headers={"content-type": request.content_type},
                        )
                    except httpx.TransportError as error:  # refused, reset, or closed before the answer
                        self._count(type(error).__name__)
                        time.sleep(0.1)
                        continue
                    self._count(str(response.status_code))
                    if response.status_code in (429, 503):
                        time.sleep(0.1)
                        continue
                    assert response.status_code == 200, (response.status_code, response.text)
                    self._acknowledged(request)
                    break
                else:
                    raise AssertionError("a request never acknowledged")

    def _acknowledged(self, request: Request) -> None:
        with self._lock:
            self.acknowledged.add(request.tally)


def _kill_and_restart(collector: CollectorProcess) -> None:
    workers = collector.worker_pids()
    collector.kill()
    # The ports are free once its workers are gone.
    wait_for(lambda: not any(process_alive(pid) for pid in workers), "a worker outlived its collector")
    collector.start()


COUNTED = ("accepted_lines", "removed_lines", "accepts", "rejects", "active_users", "sessions", "spend_usd")


def _figures(totals: dict[str, Any]) -> dict[str, Any]:
    """The counted figures, spend to the micro-dollar the load generator's tally keeps."""
    return {key: round(totals[key], 6) if key == "spend_usd" else totals[key] for key in COUNTED}


def _api_figures(collector: CollectorProcess) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    # A day either side: the run may straddle midnight UTC; members and sessions are counted once.
    return _figures(collector.analytics(today - timedelta(days=1), today + timedelta(days=1))["totals"])


@pytest.mark.parametrize(("protocol", "seed"), [("grpc", 11), ("http/protobuf", 12)])
def test_three_kills_under_load_lose_nothing_acknowledged_and_count_nothing_twice(
    tmp_path: Path, protocol: str, seed: int
) -> None:
    collector = CollectorProcess(data_dir=tmp_path / "data", extra_env=WORKERS).start()
    workload = Workload(300, protocol, "client", seed=seed, organization="org-kills")
    senders = Senders(collector, protocol, workload.requests())
    moments = random.Random(seed)
    try:
        senders.start()
        for _ in range(KILLS):
            time.sleep(moments.uniform(1.0, 3.0))
            _kill_and_restart(collector)
        time.sleep(1.0)
        senders.stop(timeout_s=300)
        assert not senders.errors, senders.errors
        sent = senders.acknowledged
        assert sent.accepted_lines > 0 and sent.spend_micros > 0 and len(sent.sessions) > 1, sent.figures()
        # The kills met requests in flight or arriving: refused, reset or cancelled, then sent again.
        assert sum(n for answer, n in senders.answers.items() if answer not in ("OK", "200")) > 0, senders.answers
        expected = _figures(sent.figures())
        assert eventually(lambda: _api_figures(collector), expected, 120, every_s=0.5) == expected, senders.answers
    finally:
        collector.kill()
