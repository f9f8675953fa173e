from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pdata.options import ConfigError, Option, OptionValues, require_at_least

# The low-cardinality labels exposed by default (Prometheus spelling: attribute dots become underscores).
DEFAULT_LABELS: tuple[str, ...] = (
    "organization_id", "model", "type", "tool_name", "decision", "source", "language", "terminal_type",
    "query_source", "start_type", "team",
)  # fmt: skip

# Never a label: one series per session would grow without bound.
FORBIDDEN_LABELS = frozenset({"session_id"})
# Labels that name a person: allowed only when the operator enables per-member labels.
MEMBER_LABELS = frozenset({"member", "user_id", "user_email", "user_account_id", "user_account_uuid"})

# The derived gauges' windows: whole UTC days ending today, today included.
DEFAULT_WINDOWS: tuple[tuple[str, int], ...] = (("1d", 1), ("7d", 7), ("30d", 30))

DEFAULT_SERIES_TTL_SECONDS = 8 * 86_400.0
# Prometheus scrapes every 60 s unless told otherwise; 75 s leaves room for scrape jitter and a slow scrape.
DEFAULT_HOLD_SECONDS = 75.0
DEFAULT_MAX_LABEL_VALUE_LENGTH = 128

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

# The exporter's rows of the collector's option table (README.md). It reads the collector's `data_dir` too
# (the series journal is kept there) and listens on the collector's `bind` unless metrics.bind is set.
OPTIONS: tuple[Option, ...] = (
    Option("metrics.port", int, 9464, "Prometheus /metrics port (0 disables it)"),
    Option("metrics.labels", str, ",".join(DEFAULT_LABELS), "comma-separated allow-list of labels on Claude Code's counters (session_id is never allowed)"),
    Option("metrics.member_labels", bool, False, "add a per-member `member` label to Claude Code's counters (one series per person)"),
    Option("metrics.max_series_per_metric", int, 5000, "cap of series per counter; points of further label sets fold into a series labelled `other`"),
    Option("metrics.series_ttl_seconds", int, 8 * 86400, "forget a counter series after this long without a point (0: never); 8 days keeps a series through a long weekend"),
    Option("metrics.new_series_hold_seconds", int, 75, "expose a new counter series (and every counter after start-up) at 0 this long before its value, so Prometheus counts the first increment; set it above the longest scrape interval"),
    Option("metrics.bind", str, "", "address /metrics binds to; empty means the `bind` address (use it to keep /metrics private while OTLP is open)"),
    Option("metrics.scrape_token_file", str, "", "file holding a token /metrics requires, as a bearer token or basic auth's password; empty means no token"),
    Option("metrics.openmetrics", bool, False, "answer scrapers that ask for OpenMetrics with it, counters carrying `_created` (for Prometheus with created-timestamp ingestion; older ones store each `_created` as an extra series)"),
    Option("metrics.max_label_value_length", int, DEFAULT_MAX_LABEL_VALUE_LENGTH, "label values of Claude Code's counters are cut to this many characters (counted in cc_analytics_label_values_truncated_total), so a sender cannot grow /metrics without bound"),
    Option("metrics.gauge_cache_seconds", int, 15, "how long the derived gauges (active users, sessions, spend…) reuse one read of the rollups"),
)  # fmt: skip


class PrometheusConfigError(ConfigError):
    pass


@dataclass(frozen=True, slots=True)
class PrometheusExporterConfig:
    # Allow-list of labels, in exposition order; a series carries those its points have (empty ones are left out).
    labels: tuple[str, ...] = DEFAULT_LABELS
    # Add the `member` label (the resolved member: email, account, API key id or user.id) to every counter.
    member_labels: bool = False
    # Hard cap of series per counter, the `other` overflow series included.
    max_series_per_metric: int = 5_000
    # A series without a new point for this long is forgotten (0: never). Eight days: a long weekend (or a
    # week's holiday) keeps its series, so Monday's first increment is not lost to a re-created series.
    series_ttl_seconds: float = DEFAULT_SERIES_TTL_SECONDS
    # A new series is exposed at 0 for this long before it shows its value, and counters are held at 0 this
    # long after start-up: every scraper whose scrape interval is shorter records the 0 first, so increase()
    # and rate() count the first increment. Set it above the longest scrape interval of any scraper.
    new_series_hold_seconds: float = DEFAULT_HOLD_SECONDS
    # Where the label sets of the series are kept across restarts ("" = nowhere: a restart ends every series).
    series_journal: str = ""
    # Where a graceful stop leaves the collector's own counters for the next start (carryover.py; "" = nowhere).
    self_metrics_carryover: str = ""
    # Answer scrapers that ask for OpenMetrics with it (counters then carry `_created`). Off by default: a
    # Prometheus without created-timestamp ingestion stores every `_created` as one more series per counter.
    openmetrics: bool = False
    # A file holding the token /metrics asks for, as a bearer token or basic auth's password ("" = none).
    scrape_token_file: str = ""
    # How long the derived gauges' figures are reused before the rollups are read again (0: every scrape).
    gauge_cache_seconds: float = 15.0
    # Label values longer than this are cut (a sender's 10 000-character model names would otherwise make each
    # series, and /metrics, as large); cuts are counted in cc_analytics_label_values_truncated_total.
    max_label_value_length: int = DEFAULT_MAX_LABEL_VALUE_LENGTH
    windows: tuple[tuple[str, int], ...] = DEFAULT_WINDOWS
    # Where the collector serves /metrics (0: not served) and the address it binds to ("" = the collector's).
    port: int = 9464
    bind: str = ""

    @classmethod
    def from_options(cls, values: OptionValues) -> PrometheusExporterConfig:
        """Raises PrometheusConfigError (a ConfigError) naming the option and what is wrong."""
        return cls(
            labels=cls.parse_labels(values["metrics.labels"]),
            member_labels=values["metrics.member_labels"],
            max_series_per_metric=values["metrics.max_series_per_metric"],
            series_ttl_seconds=float(values["metrics.series_ttl_seconds"]),
            new_series_hold_seconds=float(values["metrics.new_series_hold_seconds"]),
            gauge_cache_seconds=float(values["metrics.gauge_cache_seconds"]),
            series_journal=str(Path(values["data_dir"]) / "prometheus-series.jsonl"),
            self_metrics_carryover=str(Path(values["data_dir"]) / "prometheus-self-metrics.json"),
            scrape_token_file=values["metrics.scrape_token_file"],
            openmetrics=values["metrics.openmetrics"],
            max_label_value_length=values["metrics.max_label_value_length"],
            port=values["metrics.port"],
            bind=values["metrics.bind"],
        )

    def __post_init__(self) -> None:
        # Checked as it is made: no exporter ever runs with settings that cannot work.
        self.validate()

    def validate(self) -> None:
        """Raises PrometheusConfigError (a ConfigError) naming the option and what is wrong."""
        if not 0 <= self.port <= 65535:
            raise PrometheusConfigError(f"metrics_port must be a port number, got {self.port}")
        for label in self.labels:
            if not _LABEL_NAME.match(label) or label.startswith("__"):
                raise PrometheusConfigError(f"metrics.labels: {label!r} is not a valid Prometheus label name")
            if label in FORBIDDEN_LABELS:
                raise PrometheusConfigError(f"metrics.labels: {label} is never exposed (one series per session)")
            if label in MEMBER_LABELS and not self.member_labels:
                raise PrometheusConfigError(
                    f"metrics.labels: {label} names a person; set metrics.member_labels to expose per-member labels"
                )
        if len(set(self.labels)) != len(self.labels):
            raise PrometheusConfigError("metrics.labels: a label is listed twice")
        error = PrometheusConfigError
        require_at_least("metrics.max_series_per_metric", self.max_series_per_metric, 2, error=error)
        require_at_least("metrics.series_ttl_seconds", self.series_ttl_seconds, 0, "never", error=error)
        require_at_least("metrics.new_series_hold_seconds", self.new_series_hold_seconds, 0, error=error)
        require_at_least("metrics.gauge_cache_seconds", self.gauge_cache_seconds, 0, error=error)
        require_at_least("metrics.max_label_value_length", self.max_label_value_length, 16, error=error)

    @property
    def effective_labels(self) -> tuple[str, ...]:
        """The allow-list plus `member` when per-member labels are on."""
        if self.member_labels and "member" not in self.labels:
            return (*self.labels, "member")
        return self.labels

    @staticmethod
    def parse_labels(text: str) -> tuple[str, ...]:
        """`a,b, c` → ("a", "b", "c"); the form of the metrics.labels option."""
        return tuple(part.strip() for part in text.split(",") if part.strip())
