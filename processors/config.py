"""The processors' options (dedup.*, identity.*, privacy.*, temporality.*, validation.*) and their config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pdata.options import Option, OptionValues, config_from_rows, require_at_least, require_one_of
from processors.policy import TimeWindow, ValuePolicy

_DAY_NS = 86_400 * 1_000_000_000

OPTIONS: tuple[Option, ...] = (
    Option("dedup.window_seconds", int, 86_400, "how long a delivered request is remembered, to count a retry once"),
    Option("dedup.shared", str, "auto", "check each group of requests against the store before counting it, so that replicas sharing one store count a request retried on another replica once and continue every cumulative series from its last stored point (one query per group for each); true, false, or auto (on for an http(s) storage.dsn, off for the embedded store, which one process owns)"),
    Option("identity.directory_file", str, "", "YAML file mapping user.id to members and teams"),
    Option("privacy.store_content", bool, False, "store everything Claude Code sends (prompts, responses, tool parameters, error text, raw API bodies, free log bodies); off: only an allow-list of non-content fields per metric and event, content reduced to its length"),
    Option("temporality.state_days", int, 35, "how far back cumulative series are resumed after a restart, and how long one is kept without a point (by arrival time, whatever the points' timestamps)"),
    Option("temporality.max_series", int, 200_000, "cumulative series remembered at once (~600 bytes each); points of further new series are refused (partial success) until idle ones expire"),
    Option("validation.max_age_days", int, 35, "points and records stamped more than this many days before their arrival are refused with the reason (at most temporality.state_days is used: an older cumulative point would count again after a restart)"),
    Option("validation.max_ahead_seconds", int, 3600, "points and records stamped more than this many seconds after their arrival are refused with the reason (clock skew allowance; a far-future time would wrap the daily rollups)"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ProcessorsConfig:
    """One field per option row, named as the row's attribute (dedup.window_seconds → dedup_window_seconds)."""

    dedup_window_seconds: int = 86_400
    # auto, true or false; auto is decided by the collector, which knows the store (collector/config.py).
    dedup_shared: str = "auto"
    identity_directory_file: str = ""
    privacy_store_content: bool = False
    temporality_state_days: int = 35
    temporality_max_series: int = 200_000
    validation_max_age_days: int = 35
    validation_max_ahead_seconds: int = 3600

    @classmethod
    def from_options(cls, values: OptionValues) -> ProcessorsConfig:
        return config_from_rows(cls, OPTIONS, values)

    def validate(self) -> None:
        """Raises ConfigError naming the option and what is wrong."""
        require_at_least("temporality.max_series", self.temporality_max_series, 1)
        require_at_least("dedup.window_seconds", self.dedup_window_seconds, 1)
        require_one_of("dedup.shared", self.dedup_shared, ("auto", "true", "false"))
        require_at_least("validation.max_age_days", self.validation_max_age_days, 1)
        require_at_least("validation.max_ahead_seconds", self.validation_max_ahead_seconds, 0)

    @property
    def directory_file(self) -> Path | None:
        return Path(self.identity_directory_file) if self.identity_directory_file else None

    @property
    def dedup_window_ns(self) -> int:
        return self.dedup_window_seconds * 1_000_000_000

    @property
    def state_window_ns(self) -> int:
        return self.temporality_state_days * _DAY_NS

    @property
    def max_age_days(self) -> int:
        """validation.max_age_days as applied: past the cumulative state's window a restart forgets a series, so
        an older point would count again."""
        return min(self.validation_max_age_days, self.temporality_state_days)

    def value_policy(self) -> ValuePolicy:
        return ValuePolicy(
            TimeWindow(
                max_age_ns=self.max_age_days * _DAY_NS,
                max_ahead_ns=self.validation_max_ahead_seconds * 1_000_000_000,
            )
        )
