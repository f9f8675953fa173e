"""Ingest-to-visible probes during a load: every few seconds one developer of an organization of its own sends
one export over its own connection; a thread polls the analytics API for that organization every 100 ms until
its member shows. Latency = send → visible in the API (the probe's own acknowledgement included)."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx

from bench.common import url_of
from loadgen import Tally, Workload
from loadgen.connections import connection_for
from tests.support.collector import CollectorProcess

# How often a waiting probe's organization is read from the API (those reads, ~10/s while a probe waits, are
# part of the collector's load).
POLL_S = 0.1


class Probes:
    def __init__(self, collector: CollectorProcess, protocol: str, tag: str, timeout_s: float = 15.0) -> None:
        self.collector = collector
        self.protocol = protocol
        self.tag = tag
        self.timeout_s = timeout_s
        self.sent = 0
        self.accepted = Tally()  # what the acknowledged probes add to the collector's totals
        self.latencies_s: list[float] = []
        self._threads: list[threading.Thread] = []

    def _poll(self, client: httpx.Client, organization: str, sent_at: float) -> None:
        today = datetime.now(UTC).date()
        params = {"start": str(today - timedelta(days=1)), "end": str(today + timedelta(days=1)), "org": organization}
        while time.perf_counter() - sent_at < self.timeout_s:
            try:
                response = client.get(f"{self.collector.api_url}/api/v1/analytics", params=params)
                if response.status_code == 200 and response.json()["totals"]["active_users"] >= 1:
                    self.latencies_s.append(time.perf_counter() - sent_at)
                    return
            except httpx.HTTPError:
                pass
            time.sleep(POLL_S)

    async def run(
        self, seconds: float, every_s: float, first_after_s: float = 2.0, started: asyncio.Event | None = None
    ) -> None:
        """Probe every `every_s` from `first_after_s` until `seconds` (counted from `started` when given), then
        wait for the pollers."""
        connection = connection_for(self.protocol, url_of(self.collector, self.protocol), {}, self.timeout_s)
        # One keep-alive client for every poller: each read costs the load generator and the collector little.
        client = httpx.Client(timeout=10, headers=self.collector.api_headers())
        if started is not None:
            await started.wait()
        began = time.perf_counter()
        try:
            await asyncio.sleep(first_after_s)
            index = 0
            while time.perf_counter() - began < seconds - 1.0:
                organization = f"probe-{self.tag}-{index}"
                workload = Workload(1, self.protocol, "client", seed=5000 + index, organization=organization)
                request = next(workload.requests())
                sent_at = time.perf_counter()
                self.sent += 1
                answer = await connection.send(request)
                if answer.ok:
                    self.accepted.add(request.tally)
                    thread = threading.Thread(target=self._poll, args=(client, organization, sent_at), daemon=True)
                    thread.start()
                    self._threads.append(thread)
                index += 1
                await asyncio.sleep(max(0.0, began + first_after_s + index * every_s - time.perf_counter()))
            await asyncio.to_thread(self._join)
        finally:
            await connection.close()
            client.close()

    def _join(self) -> None:
        for thread in self._threads:
            thread.join()

    def summary(self) -> dict[str, float | int]:
        ordered = sorted(self.latencies_s)

        def pick(fraction: float) -> float:
            return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000 if ordered else math.nan

        return {
            "probes": self.sent,
            "seen": len(ordered),
            "p50_ms": round(pick(0.5), 1),
            "p99_ms": round(pick(0.99), 1),
        }
