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

# --- the collector's own metric families (collector/selfmetrics.py), as /metrics exposes them -----------------

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
STORE_WRITE_DURATION = SelfMetric(
    "cc_analytics_store_write_duration_seconds", "histogram", "Time of one insert of a group of facts into the store"
)
STORE_WRITE_ERRORS = SelfMetric(
    "cc_analytics_store_write_errors", "counter", "Inserts the store refused or could not take"
)
STORE_WRITTEN_ITEMS = SelfMetric(
    "cc_analytics_store_written_items", "counter", "Points and records committed to the store", ("kind",)
)
QUEUE_ITEMS = SelfMetric("cc_analytics_queue_items", "gauge", "Points and records waiting to be written")
QUEUE_CAPACITY = SelfMetric(
    "cc_analytics_queue_capacity_items",
    "gauge",
    "Points and records the queue holds before senders are told to back off (limits.max_queued_items)",
)
QUEUE_OLDEST_AGE = SelfMetric(
    "cc_analytics_queue_oldest_age_seconds",
    "gauge",
    "Age of the oldest request waiting to be written (0 when none waits)",
)
BUILD = SelfMetric("cc_analytics_build", "info", "The running collector's version", ("version",))
DEAD_LETTER_BATCHES = SelfMetric(
    "cc_analytics_dead_letter_batches",
    "counter",
    "Requests the store refused while it answered, by whether they were set aside in the dead-letter file "
    "(outcome: written, not_written)",
    ("outcome",),
)

SELF_METRICS: tuple[SelfMetric, ...] = (
    OTLP_REQUESTS,
    OTLP_ITEMS,
    DEDUP_HITS,
    OTLP_REQUEST_DURATION,
    STORE_WRITE_DURATION,
    STORE_WRITE_ERRORS,
    STORE_WRITTEN_ITEMS,
    QUEUE_ITEMS,
    QUEUE_CAPACITY,
    QUEUE_OLDEST_AGE,
    BUILD,
    DEAD_LETTER_BATCHES,
)
