"""The collector's own health metrics, fed by the receiver's observer."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from receiver.otlp.observer import LoggingObserver


class SelfMetrics(LoggingObserver):
    """Counts every request by protocol, signal and status, and the items accepted and rejected."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "cc_analytics_otlp_requests",
            "OTLP export requests by outcome",
            ["protocol", "signal", "status"],
            registry=registry,
        )
        self.items = Counter(
            "cc_analytics_otlp_items",
            "Points, log records and spans by outcome (accepted, rejected, dropped)",
            ["protocol", "signal", "outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "cc_analytics_otlp_request_duration_seconds",
            "Time from a request's arrival to its answer",
            ["protocol", "signal"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )

    def request_done(
        self, protocol: str, signal: str, status: str, reason: str, accepted: int, rejected: int, seconds: float
    ) -> None:
        super().request_done(protocol, signal, status, reason, accepted, rejected, seconds)
        self.requests.labels(protocol, signal, status).inc()
        if accepted and status in ("ok", "partial"):
            self.items.labels(protocol, signal, "accepted").inc(accepted)
        if rejected:
            outcome = "dropped" if signal == "traces" else "rejected"
            self.items.labels(protocol, signal, outcome).inc(rejected)
        if seconds:
            self.latency.labels(protocol, signal).observe(seconds)
