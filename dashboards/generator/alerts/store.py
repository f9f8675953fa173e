"""The alerts on the collector's way to the store: the write queue, store errors, derived gauges, the series
cap, the durable queue, and data the store refuses."""

from __future__ import annotations

from generator.alerts.families import PER_INSTANCE, collector_alert, gauge_alert, increase_alert
from generator.alerts.model import Alert, Scenario
from generator.alerts.recording import collector
from generator.alerts.scenarios import (
    C1,
    JOB,
    MEMORY_MODE,
    climbs,
    flat,
    jumps,
    memory_mode,
    of_c1,
    otlp_requests,
)
from generator.promtool import series
from generator.vocabulary import (
    COST,
    DEAD_LETTER_BATCHES,
    DERIVED_REFRESH_ERRORS,
    DERIVED_REFRESH_TIMESTAMP,
    DURABLE_QUEUE_AGE,
    DURABLE_QUEUE_BYTES,
    DURABLE_QUEUE_CAPACITY,
    DURABLE_QUEUE_CORRUPT,
    DURABLE_QUEUE_DRAINED,
    OTLP_REQUESTS,
    QUEUE_AGE,
    QUEUE_CAPACITY,
    QUEUE_ITEMS,
    SERIES_DROPPED,
    STORE_WRITE_ERRORS,
    t,
)


def store_alerts() -> list[Alert]:
    fill = t("queue_fill_ratio")
    age = t("queue_age_seconds")
    stale = t("gauge_stale_seconds")

    def queued(items: int) -> list[dict[str, str]]:
        return [of_c1(QUEUE_ITEMS, jumps(items, before=1000)), of_c1(QUEUE_CAPACITY, flat(200000))]

    return [
        gauge_alert(
            f"{collector(QUEUE_ITEMS)} / {collector(QUEUE_CAPACITY)}",
            fill,
            name="CollectorWriteQueueBackingUp",
            for_="5m",
            summary="The collector {{ $labels.instance }} cannot keep up writing to the store",
            description=f"The write queue is {{{{ $value | humanizePercentage }}}} full; the threshold is "
            f"{fill * 100:g} %. When it is full senders get 429 / RESOURCE_EXHAUSTED.",
            meaning=f"A collector's write queue is more than {fill * 100:g} % full (queued items / its capacity: "
            "limits.max_queued_items, with queue.mode=wal 2 × queue.drain_group_items); when it is full senders get "
            "429 / RESOURCE_EXHAUSTED (with queue.mode=wal, the durable queue holds them instead).",
            check="Write queue depth and age, Store write latency and errors.",
            action="Check Store write latency and errors: a slow or unreachable ClickHouse, a full disk; raise "
            "limits.max_queued_items only if the store keeps up on average.",
            firing=Scenario("190 000 of 200 000", queued(190000), value=0.95),
            quiet=(Scenario("half full", queued(100000)),),
        ),
        gauge_alert(
            collector(QUEUE_AGE),
            age,
            name="CollectorWriteQueueStale",
            for_="5m",
            summary="The collector {{ $labels.instance }} has had data waiting to be written for minutes",
            description=f"The oldest queued batch is {{{{ $value | humanizeDuration }}}} old; the threshold is "
            f"{age} s.",
            meaning=f"The oldest batch waiting to be written is more than {age} s old: the writer is stuck or the "
            "store refuses inserts.",
            check="Write queue age, Store write errors and the collector's log.",
            action="Check Store write errors and the collector's log; restart the collector if the writer is stuck "
            "(acknowledged data is spooled and survives).",
            firing=Scenario("4 minutes old", [of_c1(QUEUE_AGE, jumps(age * 2))], value=age * 2),
            quiet=(Scenario("1 minute old", [of_c1(QUEUE_AGE, jumps(age // 2))]),),
        ),
        increase_alert(
            collector(STORE_WRITE_ERRORS),
            "5m",
            name="CollectorStoreWriteErrors",
            for_="10m",
            summary="The store refuses the writes of the collector {{ $labels.instance }}",
            description="{{ $value | humanize }} inserts into the store failed in the last 5 minutes; senders are "
            "told to retry (503 / UNAVAILABLE).",
            meaning="Inserts into the store keep failing for 10 minutes: the requests concerned are answered 503 / "
            "UNAVAILABLE, so clients retry and nothing acknowledged is lost yet, but nothing new is stored. A "
            "single failed insert does not fire it.",
            check="Store write errors and latency; the collector's log has the store's error "
            "(`store.kept_insert_held`: a materialized view refuses rows its table took, and the writer holds that "
            "insert); ClickHouse's own log and free disk space.",
            action="Restore the store (ClickHouse up, disk space, credentials, a migration that failed); for the "
            "embedded store, the data directory's disk and permissions; a view that refuses what its table took: "
            "mend or drop it, and the held insert completes.",
            firing=Scenario(
                "one failed insert a minute", [of_c1(STORE_WRITE_ERRORS, climbs(steps=30))], ("20m",), value=5
            ),
            quiet=(Scenario("one failed insert", [of_c1(STORE_WRITE_ERRORS, jumps(1, steps=30))], ("20m",)),),
        ),
        collector_alert(
            name="CollectorDerivedGaugesStale",
            value=f"time() - {PER_INSTANCE} ({collector(DERIVED_REFRESH_TIMESTAMP)})",
            threshold=stale,
            for_="5m",
            summary="The derived gauges of the collector {{ $labels.instance }} are stale",
            description="The derived gauges (active users, sessions, spend, acceptance) were last read from the "
            "store {{ $value | humanizeDuration }} ago; ClaudeCodeSpendTodayHigh sees old figures.",
            meaning=f"A collector last read its derived gauges (`cc_analytics_*{{window}}`: spend, active users, "
            f"sessions, accepted lines, acceptance) from the store more than {stale} s ago: every read since has "
            f"failed (`{DERIVED_REFRESH_ERRORS}` rises) and the gauges repeat old figures.",
            check=f"`{DERIVED_REFRESH_ERRORS}` and the collector's log (the store's error); `GET /readyz`.",
            action="Restore the store's read path (ClickHouse up, the reader's credentials and grants); the "
            "gauges recover at the next scrape.",
            firing=Scenario(
                "reads stop at minute 10",
                [of_c1(DERIVED_REFRESH_TIMESTAMP, "0+60x10 600x40")],
                ("40m",),
                value=40 * 60 - 600,
            ),
            quiet=(Scenario("read every minute", [of_c1(DERIVED_REFRESH_TIMESTAMP, "0+60x50")], ("40m",)),),
        ),
        increase_alert(
            collector(SERIES_DROPPED),
            by="job, metric",
            name="CollectorSeriesCapReached",
            for_="5m",
            severity="ticket",
            summary="{{ $labels.metric }} has reached its series cap",
            description="{{ $value | humanize }} data points with new label sets of {{ $labels.metric }} were "
            "added to its `other` series in the last 15 minutes.",
            meaning="A counter reached metrics.max_series_per_metric: points of new label sets are added to its "
            "`other` series. Sums stay exact; breakdowns by organization, model or member lose the newcomers.",
            check="Exporter series per counter; `topk(10, count by (organization_id, model) "
            "(claude_code_cost_usage_USD_total))` for what uses the series.",
            action="Raise metrics.max_series_per_metric if Prometheus has room, or drop a label from "
            "metrics.labels (per-member labels are the usual cause).",
            firing=Scenario(
                "one point a minute dropped", [of_c1(SERIES_DROPPED, climbs(), f'metric="{COST}"')], ("20m",), value=15
            ),
            quiet=(Scenario("nothing dropped", [of_c1(SERIES_DROPPED, flat(0), f'metric="{COST}"')], ("20m",)),),
            labels={"job": JOB, "metric": COST},
        ),
    ]


def durable_queue_alerts() -> list[Alert]:
    fill = t("durable_queue_fill_ratio")
    age = t("durable_queue_age_seconds")
    queued = f"{DURABLE_QUEUE_BYTES}{{{C1}}}"
    oldest = f"{DURABLE_QUEUE_AGE}{{{C1}}}"
    corrupt = f"{DURABLE_QUEUE_CORRUPT}{{{C1}}}"

    def filled(waiting: int, capacity: int = 1_000_000_000) -> list[dict[str, str]]:
        return [series(queued, jumps(waiting)), of_c1(DURABLE_QUEUE_CAPACITY, flat(capacity))]

    return [
        gauge_alert(
            # Only a durable queue has a capacity: in memory mode bytes and capacity both read 0.
            f"{collector(DURABLE_QUEUE_BYTES)} / ({collector(DURABLE_QUEUE_CAPACITY)} > 0)",
            fill,
            name="CollectorDurableQueueFilling",
            for_="5m",
            summary="The durable queue of the collector {{ $labels.instance }} is filling up",
            description=f"The durable queue is {{{{ $value | humanizePercentage }}}} full; the threshold is "
            f"{fill * 100:g} %. When it is full senders get 429 / RESOURCE_EXHAUSTED.",
            meaning=f"A collector's durable queue (queue.mode=wal) holds more than {fill * 100:g} % of "
            "queue.max_bytes in records waiting to be drained into the store: the store is down or slower than the "
            "senders. When it is full senders get 429 / RESOURCE_EXHAUSTED; they retry, and past their retry "
            "budget drop.",
            check="Durable queue bytes and Durable queue age and drain rate on the Collector health dashboard; "
            "Store write errors and latency; CollectorDurableQueueNotDraining when nothing drains.",
            action="Restore or speed up the store (ClickHouse up, disk space, credentials); raise queue.max_bytes "
            "if the data directory's disk has room, to ride out a longer outage.",
            firing=Scenario("900 MB of 1 GB", filled(900_000_000), value=0.9),
            quiet=(Scenario("half full", filled(500_000_000)), Scenario(MEMORY_MODE, filled(0, 0))),
        ),
        gauge_alert(
            collector(DURABLE_QUEUE_AGE),
            age,
            name="CollectorDurableQueueNotDraining",
            for_="5m",
            summary="The durable queue of the collector {{ $labels.instance }} is not draining into the store",
            description=f"The oldest record waiting to be drained arrived {{{{ $value | humanizeDuration }}}} ago; "
            f"the threshold is {age} s.",
            meaning=f"The oldest durable queue record (queue.mode=wal) waiting to be drained arrived more than "
            f"{age} s ago: nothing has been drained for that long (the store is down or keeps failing the "
            "drainer's inserts), or the drain falls behind. Senders are still acknowledged until the queue is full "
            "(queue.max_bytes, or its disk down to queue.min_free_bytes free) or its oldest record is older than "
            "queue.max_age_seconds; then they get 429 / RESOURCE_EXHAUSTED.",
            check=f"Durable queue age and drain rate (`{DURABLE_QUEUE_DRAINED}` stays flat while the store is "
            "down); Store write errors and the collector's log (the store's error).",
            action="Restore the store: the drainer retries the same records in order (backoff up to 10 s) and "
            "catches up by itself, losing nothing acknowledged. Restart the collector only if the store takes "
            "writes and still nothing drains.",
            firing=Scenario(
                "the store is down from minute 5: the oldest record ages a minute a minute",
                [series(oldest, "1x5 60+60x20"), series(queued, "0x5 4096+4096x20")],
                ("20m",),
                value=900,
            ),
            quiet=(
                Scenario("draining: each record drained within a second", [series(oldest, jumps(1))], ("20m",)),
                memory_mode(oldest, queued, when=("20m",)),
            ),
        ),
        increase_alert(
            collector(DURABLE_QUEUE_CORRUPT),
            name="CollectorDurableQueueCorruptRecords",
            for_="5m",
            summary="The collector {{ $labels.instance }} skipped damaged durable queue records",
            description="{{ $value | humanize }} damaged durable queue records were skipped in the last 15 minutes; "
            "the requests they held are not stored.",
            meaning="The collector found damaged records in its durable queue (a write torn by a power failure, a "
            "flipped bit on disk) and skipped them; the records before and after them are drained. Those requests "
            "were acknowledged but are not stored. Each is logged as `queue.corrupt_record` with its segment, "
            "offset, bytes skipped and reason.",
            check="The collector's log (`queue.corrupt_record`); the kernel log and the health (SMART) of the disk "
            "of `<data_dir>/wal/`; whether the host lost power, and queue.fsync (never loses the last seconds "
            "to a power failure).",
            action="Replace a disk that reports errors; set queue.fsync to batch or always if it was never; tell "
            "the teams that data of that time may be missing.",
            firing=Scenario("3 damaged records skipped", [series(corrupt, jumps(3, steps=20))], value=3),
            quiet=(
                Scenario(f"nothing damaged, or {MEMORY_MODE}", [series(corrupt, flat(0, 20))]),
                Scenario(
                    "a restart: the count of an earlier run starts over at 0",
                    [series(corrupt, jumps(0, before=2, steps=20))],
                ),
            ),
        ),
    ]


WRITTEN_C1 = f'{DEAD_LETTER_BATCHES}{{{C1}, outcome="written"}}'
NOT_WRITTEN_C1 = f'{DEAD_LETTER_BATCHES}{{{C1}, outcome="not_written"}}'


def _dead_letters(written: str, not_written: str | None = None) -> list[dict[str, str]]:
    """Dead-letter batches of the collector C1 set aside (`written`) and, if given, not set aside."""
    return [series(WRITTEN_C1, written)] + ([series(NOT_WRITTEN_C1, not_written)] if not_written is not None else [])


def refusal_alerts() -> list[Alert]:
    refused = collector(OTLP_REQUESTS, 'status="refused_by_store"')
    not_written = collector(DEAD_LETTER_BATCHES, 'outcome="not_written"')
    return [
        collector_alert(
            name="CollectorStoreRefusingData",
            # In queue.mode=memory the sender is answered the refusal (status refused_by_store); in queue.mode=wal
            # it was acknowledged before the drain, and only the dead-letter count shows the refusal.
            value=f"sum by (job, instance) (increase({refused}[15m])) > 0\nor\n"
            f"sum by (job, instance) (increase({collector(DEAD_LETTER_BATCHES)}[15m]))",
            threshold=0,
            for_="5m",
            summary="The store refuses data of the collector {{ $labels.instance }} for good",
            description="{{ $value | humanize }} requests refused by the store in the last 15 minutes; their facts "
            "are set aside in the dead-letter file.",
            meaning="The store answered but refused requests for good (a value it cannot take, a table "
            "constraint, a schema that does not match the collector's). In queue.mode=memory their senders got "
            "400 / INVALID_ARGUMENT (status `refused_by_store`) and dropped them; in queue.mode=wal they were "
            "already acknowledged. Their facts are set aside, one JSON line each, in "
            "`<data_dir>/dead-letter.jsonl` (up to dead_letter.max_bytes) and stored nowhere else.",
            check="Store refusals and dead letters on the Collector health dashboard; the collector's log "
            "(`store.write_refused` with the store's error, `dead_letter.set_aside` per request); the store's "
            "schema and constraints against the collector's version.",
            action="Fix the store's schema or constraints (a migration not run, a constraint added by hand); then "
            "insert the facts of dead-letter.jsonl (the rows as they would have been stored) and move the file "
            "away, which also makes room for new lines.",
            firing=Scenario(
                "queue.mode=memory: a request answered refused_by_store and set aside",
                [otlp_requests("refused_by_store", jumps(1)), *_dead_letters(jumps(1))],
                value=1,
            ),
            also_firing=(
                Scenario(
                    "queue.mode=wal: a drained record refused and set aside, its sender acknowledged long before",
                    [otlp_requests("refused_by_store", flat(0)), *_dead_letters(jumps(1))],
                    value=1,
                ),
            ),
            quiet=(
                Scenario(
                    "senders' bad requests are not the store's refusals",
                    [
                        otlp_requests("bad_request", climbs()),
                        otlp_requests("refused_by_store", flat(0)),
                        *_dead_letters(flat(0), flat(0)),
                    ],
                ),
            ),
        ),
        increase_alert(
            not_written,
            name="CollectorDeadLetterNotWritten",
            for_="5m",
            severity="critical",
            summary="Data the store refused is lost: the collector {{ $labels.instance }} could not set it aside",
            description="{{ $value | humanize }} requests refused by the store in the last 15 minutes were not "
            "written to the dead-letter file: their data is stored nowhere.",
            meaning="Requests the store refused for good could not be set aside in `<data_dir>/dead-letter.jsonl`: "
            "the file reached dead_letter.max_bytes (0: no file at all) or cannot be written. Their senders "
            "dropped them (in queue.mode=wal they had been acknowledged), so their data is lost.",
            check="The collector's log: `dead_letter.full` (size, max_bytes) or `dead_letter.write_failed` (the "
            "error); the size of dead-letter.jsonl and the free space of the data directory; "
            "CollectorStoreRefusingData for why the store refuses.",
            action="Keep the facts of dead-letter.jsonl and move the file away, or raise dead_letter.max_bytes; "
            "repair the data directory's disk or permissions; then fix what the store refuses.",
            firing=Scenario(
                "the file is full: 2 refused requests not written", _dead_letters(flat(0), jumps(2)), value=2
            ),
            quiet=(
                Scenario(
                    "refused requests set aside (CollectorStoreRefusingData's case)", _dead_letters(jumps(2), flat(0))
                ),
                memory_mode(WRITTEN_C1, NOT_WRITTEN_C1, name=f"nothing refused, {MEMORY_MODE}"),
            ),
        ),
    ]
