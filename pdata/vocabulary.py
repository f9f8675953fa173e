"""The words the components, the SQL and the dashboards share, declared once: Claude Code's code-editing tools,
the analytics facts derived from its metrics, and the collector's own metric families.

Standard library only: dashboards/generator loads this file by path, without the product installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# The code-editing tools whose decisions make the proposal acceptance rate, in the order the console and
# Anthropic's Admin API list them (MultiEdit comes from older clients).
CODE_EDIT_TOOLS: tuple[str, ...] = ("Edit", "MultiEdit", "Write", "NotebookEdit")

# The analytics facts a metric point's value can feed (processors/derive/facts.py): the `fact` column of the
# stored points, which the rollups of exporters/clickhouse/migrations sum by name.
LINES_ADDED = "lines_added"
LINES_REMOVED = "lines_removed"
EDIT_ACCEPT = "edit_accept"
EDIT_REJECT = "edit_reject"
COST_USD = "cost_usd"
SESSION_START = "session_start"
COMMIT = "commit"
PULL_REQUEST = "pull_request"
ACTIVE_SECONDS = "active_seconds"
TOKENS_INPUT = "tokens_input"
TOKENS_OUTPUT = "tokens_output"
TOKENS_CACHE_READ = "tokens_cache_read"
TOKENS_CACHE_CREATION = "tokens_cache_creation"
FACTS: frozenset[str] = frozenset(
    {
        LINES_ADDED,
        LINES_REMOVED,
        EDIT_ACCEPT,
        EDIT_REJECT,
        COST_USD,
        SESSION_START,
        COMMIT,
        PULL_REQUEST,
        ACTIVE_SECONDS,
        TOKENS_INPUT,
        TOKENS_OUTPUT,
        TOKENS_CACHE_READ,
        TOKENS_CACHE_CREATION,
    }
)

# --- the collector's own metric families, as /metrics exposes them -------------------------------------------
# Every family on /metrics that is not Claude Code's own (claude_code_*): the collector's health
# (collector/selfmetrics.py) and the Prometheus exporter's (exporters/prometheus/counters.py, gauges.py).

MetricType = Literal["counter", "gauge", "histogram", "info"]
_SUFFIX = {"counter": "_total", "info": "_info", "gauge": "", "histogram": ""}


@dataclass(frozen=True, slots=True)
class SelfMetric:
    name: str  # the family name, as prometheus_client takes it
    type: MetricType
    help: str
    labels: tuple[str, ...] = ()

    @property
    def sample(self) -> str:
        """The name PromQL selects: counters end in _total, info metrics in _info; a histogram's samples add
        _bucket, _sum and _count to it."""
        return self.name + _SUFFIX[self.type]


OTLP_REQUESTS = SelfMetric(
    "cc_analytics_otlp_requests",
    "counter",
    "OTLP export requests by outcome (status: ok, partial, duplicate, bad_request, too_large, "
    "unauthenticated, unsupported_media_type, overloaded, unavailable, refused_by_store)",
    ("protocol", "signal", "status"),
)
OTLP_ITEMS = SelfMetric(
    "cc_analytics_otlp_items",
    "counter",
    "Points, log records and spans by outcome (accepted, rejected, dropped) and rejection reason",
    ("protocol", "signal", "outcome", "reason"),
)
DEDUP_HITS = SelfMetric(
    "cc_analytics_dedup_hits",
    "counter",
    "Requests recognised as a retry of one already counted (acknowledged, counted once)",
    ("protocol", "signal"),
)
OTLP_REQUEST_DURATION = SelfMetric(
    "cc_analytics_otlp_request_duration_seconds",
    "histogram",
    "Time from a request's arrival to its answer",
    ("protocol", "signal"),
)
WORKER_REQUESTS = SelfMetric(
    "cc_analytics_worker_requests",
    "counter",
    "OTLP export requests answered by each receiver process (worker 0: the collector's own; run --workers)",
    ("worker",),
)
STORE_WRITE_DURATION = SelfMetric(
    "cc_analytics_store_write_duration_seconds", "histogram", "Time of one insert of a group of facts into the store"
)
STORE_WRITE_ERRORS = SelfMetric(
    "cc_analytics_store_write_errors", "counter", "Inserts the store refused or could not take"
)
STORE_WRITTEN_ITEMS = SelfMetric(
    "cc_analytics_store_written_items", "counter", "Points and records committed to the store", ("kind",)
)
INFLIGHT_BYTES = SelfMetric(
    "cc_analytics_inflight_bytes",
    "gauge",
    "Working memory of the OTLP requests taken in and not yet answered, over every receiver process",
)
INFLIGHT_LIMIT = SelfMetric(
    "cc_analytics_inflight_limit_bytes",
    "gauge",
    "The in-flight budget (limits.max_inflight_bytes), past which senders are told to back off",
)
QUEUE_ITEMS = SelfMetric("cc_analytics_queue_items", "gauge", "Points and records waiting to be written")
QUEUE_CAPACITY = SelfMetric(
    "cc_analytics_queue_capacity_items",
    "gauge",
    "Points and records the write queue holds at most (limits.max_queued_items, past which senders are told to back "
    "off; with queue.mode=wal two drain groups, 2 × queue.drain_group_items)",
)
QUEUE_OLDEST_AGE = SelfMetric(
    "cc_analytics_queue_oldest_age_seconds",
    "gauge",
    "Age of the oldest request waiting to be written (0 when none waits)",
)
# The durable queue (queue.mode=wal, collector/wal/): all 0 in queue.mode=memory.
DURABLE_QUEUE_BYTES = SelfMetric(
    "cc_analytics_queue_bytes", "gauge", "Bytes of durable queue records waiting to be drained into the store"
)
DURABLE_QUEUE_CAPACITY = SelfMetric(
    "cc_analytics_queue_capacity_bytes",
    "gauge",
    "Bytes the durable queue holds before senders are told to back off (queue.max_bytes)",
)
DURABLE_QUEUE_OLDEST_AGE = SelfMetric(
    "cc_analytics_queue_oldest_record_age_seconds",
    "gauge",
    "Time since the oldest durable queue record waiting to be drained arrived (0 when none waits)",
)
DURABLE_QUEUE_DRAINED = SelfMetric(
    "cc_analytics_queue_drained_records",
    "counter",
    "Durable queue records drained: stored, recognised as already stored, or refused by the store for good",
)
DURABLE_QUEUE_REPLAYED = SelfMetric(
    "cc_analytics_queue_replayed_records",
    "counter",
    "Durable queue records an earlier run appended and this one drained (after a stop or a crash)",
)
DURABLE_QUEUE_CORRUPT = SelfMetric(
    "cc_analytics_queue_corrupt_records",
    "counter",
    "Damaged durable queue records (torn or bit-flipped) skipped, each logged as queue.corrupt_record",
)
BUILD = SelfMetric("cc_analytics_build", "info", "The running collector's version", ("version",))
DEAD_LETTER_BATCHES = SelfMetric(
    "cc_analytics_dead_letter_batches",
    "counter",
    "Requests the store refused while it answered, by whether they were set aside in the dead-letter file "
    "(outcome: written, not_written)",
    ("outcome",),
)
CUMULATIVE_POINTS_DROPPED = SelfMetric(
    "cc_analytics_cumulative_points_dropped",
    "counter",
    "Cumulative points of committed requests that added nothing, by reason (stale: not newer than the series' "
    "last point; unchanged: the same value as the series' last point)",
    ("reason",),
)

# The Prometheus exporter's own families. The events counter carries event_name, success and status_class
# always, and of organization_id … decision those the label policy (metrics.labels, metrics.member_labels)
# allows; a series leaves out its empty labels.
EVENTS = SelfMetric(
    "cc_analytics_events",
    "counter",
    "Claude Code events committed (OTel log records), by event name",
    ("event_name", "organization_id", "team", "member", "model", "tool_name", "decision", "success", "status_class"),
)
SERIES_DROPPED = SelfMetric(
    "cc_analytics_series_dropped",
    "counter",
    "Points of new label sets beyond the series cap, folded into the 'other' series",
    ("metric",),
)
LABEL_VALUES_TRUNCATED = SelfMetric(
    "cc_analytics_label_values_truncated", "counter", "Label values cut to metrics.max_label_value_length characters"
)
EXPORTER_SERIES = SelfMetric(
    "cc_analytics_exporter_series",
    "gauge",
    "Series held per Claude Code counter (the cap includes the 'other' series)",
    ("metric",),
)
ACTIVE_USERS = SelfMetric(
    "cc_analytics_active_users", "gauge", "Distinct members with any point or event in the window", ("window",)
)
SESSIONS = SelfMetric("cc_analytics_sessions", "gauge", "Distinct sessions in the window", ("window",))
SPEND_USD = SelfMetric("cc_analytics_spend_usd", "gauge", "Spend in USD in the window", ("window",))
ACCEPTED_LINES = SelfMetric(
    "cc_analytics_accepted_lines", "gauge", "Lines added by accepted edits in the window", ("window",)
)
ACCEPTANCE_RATIO = SelfMetric(
    "cc_analytics_acceptance_ratio",
    "gauge",
    "Accepted / (accepted + rejected) code-editing proposals in the window, per tool and overall (tool_name=all)",
    ("tool_name", "window"),
)
API_ANSWERS = SelfMetric(
    "cc_analytics_api_answers",
    "counter",
    "Analytics API answers by source (kept: served from memory, no commit having changed them since; computed: "
    "read from the store)",
    ("source",),
)
DERIVED_REFRESH_ERRORS = SelfMetric(
    "cc_analytics_derived_refresh_errors", "counter", "Failed reads of the derived gauges' figures"
)
DERIVED_REFRESH_TIMESTAMP = SelfMetric(
    "cc_analytics_derived_refresh_timestamp_seconds", "gauge", "Unix time of the derived gauges' last successful read"
)

SELF_METRICS: tuple[SelfMetric, ...] = (
    OTLP_REQUESTS,
    OTLP_ITEMS,
    DEDUP_HITS,
    OTLP_REQUEST_DURATION,
    WORKER_REQUESTS,
    API_ANSWERS,
    INFLIGHT_BYTES,
    INFLIGHT_LIMIT,
    STORE_WRITE_DURATION,
    STORE_WRITE_ERRORS,
    STORE_WRITTEN_ITEMS,
    QUEUE_ITEMS,
    QUEUE_CAPACITY,
    QUEUE_OLDEST_AGE,
    DURABLE_QUEUE_BYTES,
    DURABLE_QUEUE_CAPACITY,
    DURABLE_QUEUE_OLDEST_AGE,
    DURABLE_QUEUE_DRAINED,
    DURABLE_QUEUE_REPLAYED,
    DURABLE_QUEUE_CORRUPT,
    BUILD,
    DEAD_LETTER_BATCHES,
    CUMULATIVE_POINTS_DROPPED,
    EVENTS,
    SERIES_DROPPED,
    LABEL_VALUES_TRUNCATED,
    EXPORTER_SERIES,
    ACTIVE_USERS,
    SESSIONS,
    SPEND_USD,
    ACCEPTED_LINES,
    ACCEPTANCE_RATIO,
    DERIVED_REFRESH_ERRORS,
    DERIVED_REFRESH_TIMESTAMP,
)
