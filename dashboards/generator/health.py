"""The Collector health dashboard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from generator.grafana import (
    Layout,
    alert_list,
    dashboard,
    datasource_variable,
    default_options,
    panel,
    prom,
    prom_targets,
    prom_variable,
    steps,
)
from generator.vocabulary import (
    BUILD_INFO,
    CUMULATIVE_POINTS_DROPPED,
    DEAD_LETTER_BATCHES,
    DEDUP_HITS,
    DURABLE_QUEUE_AGE,
    DURABLE_QUEUE_BYTES,
    DURABLE_QUEUE_CAPACITY,
    DURABLE_QUEUE_CORRUPT,
    DURABLE_QUEUE_DRAINED,
    DURABLE_QUEUE_REPLAYED,
    EXPORTER_SERIES,
    INFLIGHT_BYTES,
    INFLIGHT_LIMIT,
    OTLP_DURATION,
    OTLP_ITEMS,
    OTLP_REQUESTS,
    QUEUE_AGE,
    QUEUE_ITEMS,
    SERIES_DROPPED,
    STORE_WRITE_DURATION,
    STORE_WRITE_ERRORS,
    WORKER_REQUESTS,
    t,
)

# --- Collector health -----------------------------------------------------------------------------------------


def status_panels(layout: Layout, inst: str) -> list[dict[str, Any]]:
    """Is it up, which version, is anything refused or piling up, and the collector's firing alerts."""
    return [
        layout.row("Status"),
        layout.place(
            panel(
                "stat",
                "Collector up",
                [prom(f"up{{{inst}}}", "{{instance}}", instant=True)],
                "1 when Prometheus' last scrape of /metrics succeeded.",
                defaults={
                    "mappings": [
                        {
                            "type": "value",
                            "options": {"0": {"text": "DOWN", "color": "red"}, "1": {"text": "UP", "color": "green"}},
                        }
                    ]
                },
                thresholds=steps("red", (1, "green")),
            ),
            4,
            5,
        ),
        layout.place(
            panel(
                "stat",
                "Version",
                [
                    prom(
                        f"max by (instance, version) ({BUILD_INFO}{{{inst}}})", "{{instance}} {{version}}", instant=True
                    )
                ],
                f"The collector version each instance runs ({BUILD_INFO}).",
                options={**default_options("stat"), "textMode": "name"},
            ),
            5,
            5,
        ),
        layout.place(
            panel(
                "stat",
                "Rejected items (time range)",
                [
                    prom(
                        f'sum(increase({OTLP_ITEMS}{{{inst}, outcome="rejected"}}[$__range]))', "rejected", instant=True
                    )
                ],
                "Points and log records refused (bad payload, auth, limits, queue full) over the time range; amber "
                "from the first one.",
                thresholds=steps("green", (1, "orange")),
            ),
            5,
            5,
        ),
        layout.place(
            panel(
                "stat",
                "Write queue",
                [prom(f"sum({QUEUE_ITEMS}{{{inst}}})", "queued", instant=True)],
                "Points and records waiting to be written to the store (all instances).",
            ),
            5,
            5,
        ),
        layout.place(
            panel(
                "stat",
                "Series dropped (time range)",
                [prom(f"sum(increase({SERIES_DROPPED}{{{inst}}}[$__range]))", "dropped", instant=True)],
                "Points folded into the `other` series because a counter hit its series cap; amber from the first.",
                thresholds=steps("green", (1, "orange")),
            ),
            5,
            5,
        ),
        layout.place(
            alert_list(
                "Collector alerts",
                "Firing and pending Collector* alerts: see dashboards/README.md for what each means and what to do.",
                "Collector",
            ),
            24,
            5,
        ),
    ]


def _quantiles(histogram: str, inst: str, rate: str, quantiles: tuple[float, ...]) -> list[dict[str, Any]]:
    """One target per quantile of a duration histogram, all instances together, refIds A, B, C, … in order."""
    return prom_targets(
        *(
            (f"histogram_quantile({q}, sum by (le) (rate({histogram}_bucket{{{inst}}}[{rate}])))", f"p{int(q * 100)}")
            for q in quantiles
        )
    )


def health_dashboard() -> dict[str, Any]:
    layout = Layout()
    inst = 'job=~"$job", instance=~"$instance"'
    rate = "$__rate_interval"

    def graph(title: str, targets: list[dict[str, Any]], description: str, **options: Any) -> dict[str, Any]:
        # Every graph of this dashboard is half a row wide, two to a row.
        return layout.place(panel("timeseries", title, targets, description, **options), 12, 8)

    panels = [
        *status_panels(layout, inst),
        layout.row("Ingest"),
        graph(
            "OTLP requests by status",
            [
                prom(
                    f"sum by (protocol, signal, status) (rate({OTLP_REQUESTS}{{{inst}}}[{rate}]))",
                    "{{protocol}} {{signal}} {{status}}",
                )
            ],
            "Export requests per second by protocol, signal and answer.",
            unit="reqps",
        ),
        graph(
            "Items by outcome",
            [prom(f"sum by (signal, outcome) (rate({OTLP_ITEMS}{{{inst}}}[{rate}]))", "{{signal}} {{outcome}}")],
            "Points, log records and spans per second: accepted, rejected, dropped.",
            unit="short",
        ),
        graph(
            "Request latency",
            _quantiles(OTLP_DURATION, inst, rate, (0.5, 0.95, 0.99)),
            "Time from a request's arrival to its answer (acknowledged only once durable).",
            unit="s",
        ),
        graph(
            "Rejections by reason",
            [
                prom(
                    f'sum by (signal, reason) (rate({OTLP_ITEMS}{{{inst}, outcome=~"rejected|dropped"}}[{rate}]))',
                    "{{signal}} {{reason}}",
                )
            ],
            "Items refused or dropped per second, by the receiver's reason.",
            unit="short",
        ),
        graph(
            "Rejected share",
            [
                prom(
                    f'sum(rate({OTLP_ITEMS}{{{inst}, outcome="rejected"}}[{rate}]))\n'
                    f'/\nsum(rate({OTLP_ITEMS}{{{inst}, outcome=~"accepted|rejected"}}[{rate}]))',
                    "rejected share",
                )
            ],
            "Rejected / (accepted + rejected) items.",
            unit="percentunit",
        ),
        graph(
            "Requests by receiver process",
            [prom(f"sum by (worker) (rate({WORKER_REQUESTS}{{{inst}}}[{rate}]))", "worker {{worker}}")],
            "Export requests per second answered by each receiver process (`workers`; worker 0 is the collector's "
            "own): the kernel spreads new connections among them, so a long-lived imbalance means few clients "
            "holding long connections.",
            unit="reqps",
        ),
        graph(
            "In-flight request memory",
            prom_targets(
                (f"sum({INFLIGHT_BYTES}{{{inst}}})", "in flight"),
                (f"sum({INFLIGHT_LIMIT}{{{inst}}})", "limit"),
            ),
            "Working memory of the OTLP requests taken in and not yet answered, over every receiver process, and "
            "the budget (limits.max_inflight_bytes) past which senders get 429 / RESOURCE_EXHAUSTED with a retry "
            "hint; all instances.",
            unit="bytes",
        ),
        graph(
            "Cumulative points dropped by reason",
            [prom(f"sum by (reason) (rate({CUMULATIVE_POINTS_DROPPED}{{{inst}}}[{rate}]))", "{{reason}}")],
            "Cumulative points accepted but adding nothing, per second: unchanged (an idle series re-exported, "
            "ordinary for cumulative senders) and stale (not newer than the series' last point: replays, "
            "out-of-order points, clocks going back).",
            unit="short",
        ),
        layout.row("Store and exporter"),
        graph(
            "Write queue",
            prom_targets(
                (f"sum({QUEUE_ITEMS}{{{inst}}})", "queued items"),
                (f"max({QUEUE_AGE}{{{inst}}})", "oldest (s)"),
            ),
            "Items waiting for the writer (left) and the age of the oldest (right).",
            right=["oldest (s)"],
            right_unit="s",
        ),
        graph(
            "Store write latency",
            _quantiles(STORE_WRITE_DURATION, inst, rate, (0.5, 0.95)),
            "Time of one batched insert into ClickHouse.",
            unit="s",
        ),
        graph(
            "Store write errors and dedup hits",
            prom_targets(
                (f"sum(rate({STORE_WRITE_ERRORS}{{{inst}}}[{rate}]))", "write errors"),
                (f"sum(rate({DEDUP_HITS}{{{inst}}}[{rate}]))", "duplicate requests"),
            ),
            "Failed inserts (retried from the spool) and requests recognised as retries of one already counted.",
            unit="short",
        ),
        graph(
            "Exporter series",
            prom_targets(
                (f"sum by (metric) ({EXPORTER_SERIES}{{{inst}}})", "{{metric}}"),
                (f"sum by (metric) (increase({SERIES_DROPPED}{{{inst}}}[$__interval]))", "dropped {{metric}}"),
            ),
            "Series held per counter, and points folded into `other` per interval.",
            interval="1m",
        ),
        *durable_queue_panels(layout, graph, inst, rate),
    ]
    return dashboard(
        "cc-analytics-collector",
        "Collector health",
        "The claude-code-analytics collector's own metrics: ingest, latency, write queue, store, exporter series, "
        "durable queue, store refusals.",
        panels,
        health_variables(),
        time_from="now-6h",
        tags=("collector",),
    )


def durable_queue_panels(
    layout: Layout, graph: Callable[..., dict[str, Any]], inst: str, rate: str
) -> list[dict[str, Any]]:
    """The durable queue of queue.mode=wal (every figure 0 in memory mode) and what the store refused for good."""
    return [
        layout.row("Durable queue and store refusals"),
        graph(
            "Durable queue bytes",
            prom_targets(
                (f"sum({DURABLE_QUEUE_BYTES}{{{inst}}})", "waiting"),
                (f"sum({DURABLE_QUEUE_CAPACITY}{{{inst}}})", "capacity"),
            ),
            "Bytes of records waiting to be drained into the store, and the capacity (queue.max_bytes) past which "
            "senders get 429 / RESOURCE_EXHAUSTED; all instances, 0 in queue.mode=memory.",
            unit="bytes",
        ),
        graph(
            "Durable queue drain rate and age",
            prom_targets(
                (f"sum(rate({DURABLE_QUEUE_DRAINED}{{{inst}}}[{rate}]))", "drained"),
                (f"max({DURABLE_QUEUE_AGE}{{{inst}}})", "oldest (s)"),
            ),
            "Records drained per second (stored, recognised as stored, or refused for good: left) and the time "
            "since the oldest waiting record arrived (right). A flat drain with a growing age: the store does not "
            "take writes.",
            right=["oldest (s)"],
            right_unit="s",
        ),
        graph(
            "Durable queue replayed and corrupt records",
            prom_targets(
                (f"sum(increase({DURABLE_QUEUE_REPLAYED}{{{inst}}}[$__interval]))", "replayed"),
                (f"sum(increase({DURABLE_QUEUE_CORRUPT}{{{inst}}}[$__interval]))", "corrupt (skipped)"),
            ),
            "Records per interval that an earlier run appended and this one drained (after a stop or a crash), and "
            "damaged records skipped (each logged as queue.corrupt_record: their requests are not stored).",
            interval="1m",
        ),
        graph(
            "Store refusals and dead letters",
            [
                prom(
                    f'sum(increase({OTLP_REQUESTS}{{{inst}, status="refused_by_store"}}[$__interval]))',
                    "answered refused_by_store",
                    "A",
                ),
                prom(
                    f"sum by (outcome) (increase({DEAD_LETTER_BATCHES}{{{inst}}}[$__interval]))",
                    "dead letter {{outcome}}",
                    "B",
                ),
            ],
            "Requests per interval the store refused for good: answered 400 / INVALID_ARGUMENT (queue.mode=memory; "
            "in wal mode they were acknowledged before), and set aside in dead-letter.jsonl (written) or lost "
            "(not_written: past dead_letter.max_bytes, or the file cannot be written).",
            interval="1m",
        ),
    ]


def health_variables() -> list[dict[str, Any]]:
    """Job and instance come from the build-info gauge, which every collector exposes from start-up: the
    variables are filled before the first OTLP request arrives."""
    return [
        datasource_variable("prometheus", "Prometheus"),
        {
            **prom_variable("job", "Job", f"label_values({BUILD_INFO}, job)"),
            "includeAll": False,
            "multi": False,
            "current": {"selected": True, "text": t("collector_job"), "value": t("collector_job")},
        },
        prom_variable("instance", "Instance", f'label_values({BUILD_INFO}{{job=~"$job"}}, instance)'),
    ]
