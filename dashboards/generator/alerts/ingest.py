"""The alerts on the collector's ingest: is it up and scraped, does data arrive, are senders refused or
requests slow."""

from __future__ import annotations

from generator.alerts.families import collector_alert
from generator.alerts.model import Alert, Scenario
from generator.alerts.recording import LATENCY_P95, REFUSED_BY_SENDERS, collector
from generator.alerts.scenarios import C1, C2, JOB, otlp_requests, rising, weekly
from generator.promtool import MONDAY, at, minute_of, series
from generator.vocabulary import OTLP_DURATION, OTLP_REQUESTS, t


def availability_alerts() -> list[Alert]:
    up = collector("up")
    first, end = t("working_hours_utc")
    first_day, last_day = t("working_days")
    hours = t("no_client_data_hours")
    accepted = collector(OTLP_REQUESTS, 'status=~"ok|partial"')
    ok = f'{OTLP_REQUESTS}{{{C1}, protocol="http", signal="metrics", status="ok"}}'
    up_series = f"up{{{C1}}}"
    thursday = 0  # the epoch
    saturday, sunday = 2, 3
    monday = MONDAY
    quiet_until = minute_of(monday + 1, 0)
    return [
        collector_alert(
            name="ClaudeCodeCollectorDown",
            value=up,
            op="==",
            threshold=0,
            for_=t("collector_down_for"),
            severity="critical",
            summary="The claude-code-analytics collector {{ $labels.instance }} is down",
            description="Prometheus cannot scrape {{ $labels.instance }}/metrics (up = {{ $value | humanize }}): "
            "OTLP exports from Claude Code are probably failing too.",
            meaning="Prometheus cannot scrape a collector's /metrics: OTLP exports from Claude Code are probably "
            "failing too (clients retry for a while, then drop).",
            check="Collector up on the Collector health dashboard; Prometheus' Targets page for the scrape error; "
            "`/healthz` and `/readyz` on the API port.",
            action="Check the process (systemctl status / container logs), /healthz and /readyz on the API port, "
            "disk space of the data directory.",
            firing=Scenario("the scrape fails from minute 6", [series(up_series, "1x5 0x20")], ("20m",), value=0),
            quiet=(Scenario("one failed scrape", [series(up_series, "1x5 0x2 1x20")], ("20m",)),),
        ),
        collector_alert(
            name="CollectorScrapeTargetMissing",
            value=f"absent({up})",
            op="==",
            threshold=1,
            for_="10m",
            severity="critical",
            summary=f"Prometheus has no scrape target of job {JOB}",
            description=f"No `up` series of job {JOB} (absent = {{{{ $value | humanize }}}}): every collector "
            "alert is blind.",
            meaning=f"Prometheus has no target at all in job `{JOB}`: service discovery lost the collector, or the "
            "scrape config's job name differs from collector_job, and every other collector alert is blind.",
            check="Prometheus' Targets and Service discovery pages; `count by (job) (up)` for the job names it has; "
            "on Kubernetes the ServiceMonitor's selector and the Service's labels.",
            action="Fix the scrape config or the ServiceMonitor, or set collector_job to the job name Prometheus "
            "uses and regenerate the rules.",
            firing=Scenario(
                "only another job is scraped", [series('up{job="node", instance="n:9100"}', "1x20")], value=1
            ),
            quiet=(
                Scenario("the collector is scraped", [series(up_series, "1x20")]),
                Scenario(
                    "the collector is scraped but down (ClaudeCodeCollectorDown's case)", [series(up_series, "0x20")]
                ),
            ),
            labels={"job": JOB},
        ),
        collector_alert(
            name="CollectorNoClientData",
            # Where no requests series exists at all (nothing ever accepted), read 0 rather than nothing.
            value=f"sum by (job) (increase({accepted}[{hours}h]))\nor\nmax by (job) ({up}) * 0",
            op="==",
            threshold=0,
            guard=f"max by (job) ({up}) == 1\nand on ()\n"
            f"(hour() >= {first + hours} and hour() < {end} and day_of_week() >= {first_day} "
            f"and day_of_week() <= {last_day})",
            for_="10m",
            summary=f"No Claude Code client has sent data to job {JOB} for {hours}h of the working day",
            description=f"{{{{ $value | humanize }}}} OTLP requests accepted in the last {hours}h, during working "
            "hours: clients are not exporting, or cannot reach the collector.",
            meaning=f"The collector is up but accepted no OTLP request (status ok or partial) in the last "
            f"{hours} h, checked on working days (day_of_week() {first_day}–{last_day}) from {first + hours}:00 to "
            f"{end}:00 UTC (the working day {first}:00–{end}:00 less its first {hours} h): no client reaches it, "
            "or every request is refused.",
            check="OTLP requests by status (refusals point at CollectorIngestMisconfiguredSenders or Overloaded); "
            "on a client, `CLAUDE_CODE_ENABLE_TELEMETRY`, `OTEL_EXPORTER_OTLP_ENDPOINT` and a `curl` of it.",
            action="Restore the network path or DNS name the clients use, or their telemetry settings (managed "
            "settings); set working_hours_utc and working_days to the team's hours.",
            firing=Scenario(
                "nothing on a Thursday", [series(ok, "0x90"), series(up_series, "1x90")], (at(thursday, 11),), 0
            ),
            quiet=(
                Scenario(
                    "09-17 weekdays: nights and the weekend are not working hours",
                    [
                        series(ok, weekly(5, quiet_until)),
                        series(up_series, f"1x{quiet_until // 10}"),
                    ],
                    (
                        at(thursday, 9, 30),
                        at(thursday, 11),
                        at(thursday + 1, 3),
                        at(saturday, 11),
                        at(sunday, 15),
                        at(monday, 10),
                        at(monday, 16, 30),
                    ),
                ),
            ),
            labels={"job": JOB},
            step="10m",
        ),
    ]


def ingest_alerts() -> list[Alert]:
    overloaded = t("ingest_overloaded_ratio")
    refused = t("ingest_refused_ratio")
    minimum = t("ingest_min_requests")
    latency = t("ingest_latency_p95_seconds")

    def share(by: str, matcher: str) -> str:
        return (
            f"sum by ({by}) (rate({collector(OTLP_REQUESTS, matcher)}[5m]))\n"
            f"/\nsum by ({by}) (rate({collector(OTLP_REQUESTS)}[5m]))"
        )

    def enough(by: str) -> str:
        return f"sum by ({by}) (increase({collector(OTLP_REQUESTS)}[5m])) >= {minimum}"

    def histogram(bucket_values: dict[str, str]) -> list[dict[str, str]]:
        name = f'{OTLP_DURATION}_bucket{{{C1}, protocol="grpc", signal="metrics"'
        count = f'{OTLP_DURATION}_count{{{C1}, protocol="grpc", signal="metrics"}}'
        return [series(f'{name}, le="{le}"}}', values) for le, values in bucket_values.items()] + [
            series(count, bucket_values["+Inf"])
        ]

    def requests(per_minute: dict[str, float], target: str = C1) -> list[dict[str, str]]:
        """40 minutes of a collector's OTLP requests: each status's counter rises by its count a minute."""
        return [otlp_requests(status, rising(count, 40), target) for status, count in per_minute.items()]

    slow = {"0.25": "0x30", "2.5": "0x30", "5": "0+10x30", "+Inf": "0+10x30"}
    fast = {"0.25": "0+10x30", "2.5": "0+10x30", "5": "0+10x30", "+Inf": "0+10x30"}
    return [
        collector_alert(
            name="CollectorIngestOverloaded",
            value=share("job, instance", 'status="overloaded"'),
            threshold=overloaded,
            guard=enough("job, instance"),
            for_="10m",
            summary="The collector {{ $labels.instance }} is refusing telemetry for lack of capacity",
            description=f"{{{{ $value | humanizePercentage }}}} of OTLP requests got 429 / RESOURCE_EXHAUSTED over "
            f"5 minutes; the threshold is {overloaded * 100:g} %.",
            meaning=f"More than {overloaded * 100:g} % of a collector's OTLP requests were refused as overloaded "
            "(HTTP 429 / gRPC RESOURCE_EXHAUSTED: the in-flight byte budget or the write queue is full, or in "
            "queue.mode=wal the durable queue is full or its oldest record too old) over 5 "
            f"minutes, with at least {minimum} requests. Clients retry, but late and, past their retry budget, "
            "not at all.",
            check="OTLP requests by status, In-flight request memory, Write queue depth and age, Store write "
            "latency: a slow store fills the queue; a burst of clients fills the byte budget (in flight against "
            "its limit).",
            action="Speed up or scale the store, add collector replicas, or raise limits.max_inflight_bytes / "
            "limits.max_queued_items if the host has the memory.",
            firing=Scenario(
                "one request in ten refused",
                requests({"ok": 90, "overloaded": 10}),
                ("30m",),
                value=0.1,
            ),
            quiet=(
                Scenario(
                    "no refusals, and refusals for a bad token (another alert's)",
                    requests({"ok": 90, "overloaded": 0, "unauthenticated": 10}),
                    ("30m",),
                ),
                Scenario(
                    "too few requests to tell",
                    requests({"ok": 1, "overloaded": 1}),
                    ("30m",),
                ),
            ),
        ),
        collector_alert(
            name="CollectorIngestMisconfiguredSenders",
            value=share("job", REFUSED_BY_SENDERS),
            threshold=refused,
            guard=enough("job"),
            for_="15m",
            summary=f"Senders to job {JOB} are misconfigured: their requests are refused",
            description=f"{{{{ $value | humanizePercentage }}}} of OTLP requests were refused as unauthenticated, "
            f"malformed, too large or of an unsupported media type over 5 minutes; the threshold is "
            f"{refused * 100:g} %.",
            meaning=f"More than {refused * 100:g} % of OTLP requests, all replicas together, were refused because "
            "of the sender: unauthenticated (401: missing or wrong ingest token), bad_request (400), too_large "
            f"(413, over limits.max_request_bytes) or unsupported_media_type (415), with at least {minimum} "
            "requests. Those clients' data is lost; retrying does not help them.",
            check="OTLP requests by status for which status, protocol and signal; the collector's log has one "
            "`otlp.request_refused` line per refusal with its reason.",
            action="Fix the clients' `OTEL_EXPORTER_OTLP_HEADERS` (token), protocol (`OTEL_EXPORTER_OTLP_PROTOCOL` "
            "against the port) or batch size, or add the token to the collector's tokens file.",
            firing=Scenario(
                "3 % unauthenticated and 2 % malformed, over two replicas",
                [*requests({"ok": 45, "unauthenticated": 3}), *requests({"ok": 50, "bad_request": 2}, C2)],
                ("30m",),
                value=0.05,
            ),
            quiet=(
                Scenario(
                    "overload and duplicates are not the senders' fault",
                    requests({"ok": 80, "overloaded": 10, "duplicate": 10, "unauthenticated": 0}),
                    ("30m",),
                ),
            ),
            labels={"job": JOB},
        ),
        collector_alert(
            name="CollectorIngestLatencyHigh",
            value=LATENCY_P95,
            threshold=latency,
            guard=f"sum by (job, instance) (increase({collector(OTLP_DURATION + '_count')}[5m])) >= {minimum}",
            for_="15m",
            summary="The collector {{ $labels.instance }} answers OTLP requests slowly",
            description=f"p95 of the OTLP request duration is {{{{ $value | humanizeDuration }}}}; the threshold "
            f"is {latency} s.",
            meaning=f"The 95th percentile of a collector's OTLP request duration (arrival to answer; a request is "
            f"answered once its rows are committed) is above {latency} s over 5 minutes, with at least {minimum} "
            "requests. Clients time out at 10 s by default and then retry the whole batch.",
            check="Request latency next to Store write latency: a slow store shows in both; CPU of the collector "
            "(decoding) shows only in the first.",
            action="Look at the store first (ClickHouse load, disk, network); add collector replicas if the "
            "collector's CPU is saturated.",
            firing=Scenario("every request takes 2.5–5 s", histogram(slow), ("30m",), value=2.5 + 2.5 * 0.95),
            quiet=(Scenario("every request takes under 0.25 s", histogram(fast), ("30m",)),),
        ),
    ]
