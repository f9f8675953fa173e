"""Configuration: defaults < cc-analytics.yaml < CC_ANALYTICS_* environment < command-line flags.

Each component declares its option rows (pdata.options.Option: YAML path, type, default, one line of
documentation; the environment variable and the flag follow from the path) beside its config, which it builds
from the loaded values (`from_options`) and checks (`validate`). This module gathers the rows into one table
(OPTIONS, README.md's option table), loads their values and checks the rules that span components.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

from collector.service import OPTIONS as SERVICE_OPTIONS
from collector.service import ServiceConfig
from collector.wal.config import OPTIONS as QUEUE_OPTIONS
from collector.wal.config import QueueConfig
from console.config import OPTIONS as CONSOLE_OPTIONS
from console.config import ConsoleConfig
from exporters.clickhouse.config import OPTIONS as STORE_OPTIONS
from exporters.clickhouse.config import ClickHouseConfig
from exporters.prometheus.config import OPTIONS as PROMETHEUS_OPTIONS
from exporters.prometheus.config import PrometheusExporterConfig
from pdata.options import ConfigError, Option
from processors.config import OPTIONS as PROCESSORS_OPTIONS
from processors.config import ProcessorsConfig
from receiver.otlp.config import OPTIONS as RECEIVER_OPTIONS
from receiver.otlp.config import OtlpReceiverConfig

__all__ = ["OPTIONS", "Config", "ConfigError", "Option", "load", "options_table"]

# Every component's rows, by the folder that owns them (its README says which options it reads).
COMPONENT_OPTIONS: dict[str, tuple[Option, ...]] = {
    "collector": SERVICE_OPTIONS,
    "collector/wal": QUEUE_OPTIONS,
    "receiver/otlp": RECEIVER_OPTIONS,
    "processors": PROCESSORS_OPTIONS,
    "exporters/clickhouse": STORE_OPTIONS,
    "exporters/prometheus": PROMETHEUS_OPTIONS,
    "console": CONSOLE_OPTIONS,
}

# README.md's table lists the options by YAML section, the way operators look them up, rather than by the
# component that reads them (the `limits.*` rows belong to the receiver and to the collector). A row not
# named here comes after these, in its component's order.
TABLE_ORDER: tuple[str, ...] = (
    "bind", "otlp.grpc_port", "otlp.http_port", "otlp.grpc_bdp_probe", "api.port", "api.kept_answers",
    "http.allowed_hosts",
    "metrics.port", "metrics.labels", "metrics.member_labels", "metrics.max_series_per_metric",
    "metrics.series_ttl_seconds", "metrics.new_series_hold_seconds", "metrics.bind", "metrics.scrape_token_file",
    "metrics.openmetrics", "metrics.max_label_value_length", "metrics.gauge_cache_seconds",
    "data_dir", "storage.dsn", "storage.fsync", "storage.cluster", "storage.retention_days", "storage.pool_size",
    "storage.summaries_refresh_seconds", "storage.return_freed_memory",
    "limits.max_request_bytes", "limits.max_request_items", "limits.max_queued_items", "limits.max_inflight_bytes",
    "limits.max_concurrent_rpcs", "limits.max_calls_per_peer", "limits.max_connections",
    "limits.header_timeout_seconds", "limits.body_timeout_seconds", "limits.keep_alive_seconds",
    "queue.mode", "queue.max_bytes", "queue.max_age_seconds", "queue.min_free_bytes", "queue.fsync", "queue.fsync_interval_ms", "queue.drain_group_items",
    "queue.drain_interval_ms", "workers", "memory.trim_interval_ms",
    "dedup.window_seconds", "dedup.shared", "auth.tokens_file", "auth.require_token", "auth.organization_mismatch",
    "identity.directory_file", "privacy.store_content", "temporality.state_days", "temporality.max_series",
    "validation.max_age_days", "validation.max_ahead_seconds", "log.level", "dead_letter.max_bytes",
    "console.access_file", "console.trusted_header", "console.session_hours", "console.cookie_secure",
    "console.initial_owner_token_file",
)  # fmt: skip


def _gather() -> tuple[Option, ...]:
    rows = [row for rows in COMPONENT_OPTIONS.values() for row in rows]
    position = {path: index for index, path in enumerate(TABLE_ORDER)}
    return tuple(sorted(rows, key=lambda row: position.get(row.path, len(position))))


OPTIONS: tuple[Option, ...] = _gather()


def options_table() -> str:
    """README.md's option table, made from OPTIONS (tests/unit/test_config.py keeps the README in step)."""
    rows = ["| key | env | default | meaning |", "|---|---|---|---|"]
    for option in OPTIONS:
        default = str(option.default).lower() if option.type is bool else str(option.default)
        rows.append(f"| `{option.path}` | `{option.env}` | `{default}` | {option.doc} |" if default else
                    f"| `{option.path}` | `{option.env}` | | {option.doc} |")  # fmt: skip
    return "\n".join(rows) + "\n"


CONFIG_FILE_ENV = "CC_ANALYTICS_CONFIG"
DEFAULT_CONFIG_FILE = "cc-analytics.yaml"


@dataclass(frozen=True)
class Config:
    """Every option's loaded value (one field per row, named as its attribute) and each component's config
    made from them through the component's factory."""

    bind: str
    otlp_grpc_port: int
    otlp_http_port: int
    otlp_grpc_bdp_probe: bool
    api_port: int
    api_kept_answers: int
    http_allowed_hosts: str
    metrics_port: int
    metrics_labels: str
    metrics_member_labels: bool
    metrics_max_series_per_metric: int
    metrics_series_ttl_seconds: int
    metrics_new_series_hold_seconds: int
    metrics_bind: str
    metrics_scrape_token_file: str
    metrics_openmetrics: bool
    metrics_max_label_value_length: int
    metrics_gauge_cache_seconds: int
    data_dir: str
    storage_dsn: str
    storage_fsync: bool
    storage_cluster: str
    storage_retention_days: int
    storage_pool_size: int
    storage_summaries_refresh_seconds: int
    storage_return_freed_memory: bool
    limits_max_request_bytes: int
    limits_max_request_items: int
    limits_max_queued_items: int
    limits_max_inflight_bytes: int
    limits_max_concurrent_rpcs: int
    limits_max_calls_per_peer: int
    limits_max_connections: int
    limits_header_timeout_seconds: int
    limits_body_timeout_seconds: int
    limits_keep_alive_seconds: int
    dedup_window_seconds: int
    dedup_shared: str
    auth_tokens_file: str
    auth_require_token: str
    auth_organization_mismatch: str
    identity_directory_file: str
    privacy_store_content: bool
    temporality_state_days: int
    temporality_max_series: int
    validation_max_age_days: int
    validation_max_ahead_seconds: int
    workers: str
    memory_trim_interval_ms: int
    log_level: str
    console_access_file: str
    console_trusted_header: str
    console_session_hours: int
    console_cookie_secure: bool
    console_initial_owner_token_file: str
    dead_letter_max_bytes: int
    queue_mode: str
    queue_max_bytes: int
    queue_max_age_seconds: int
    queue_min_free_bytes: int
    queue_fsync: str
    queue_fsync_interval_ms: int
    queue_drain_group_items: int
    queue_drain_interval_ms: int

    def options(self) -> dict[str, Any]:
        """Every value by its option's dotted path, as the components' `from_options` read them."""
        return {option.path: getattr(self, option.attribute) for option in OPTIONS}

    @property
    def service(self) -> ServiceConfig:
        return ServiceConfig.from_options(self.options())

    @property
    def queue(self) -> QueueConfig:
        return QueueConfig.from_options(self.options(), shared_store=self.shared_state)

    @property
    def receiver(self) -> OtlpReceiverConfig:
        return OtlpReceiverConfig.from_options(self.options())

    @property
    def processors(self) -> ProcessorsConfig:
        return ProcessorsConfig.from_options(self.options())

    @property
    def store(self) -> ClickHouseConfig:
        return ClickHouseConfig.from_options(self.options())

    @property
    def prometheus(self) -> PrometheusExporterConfig:
        """Raises PrometheusConfigError (a ConfigError) for settings that cannot work."""
        return PrometheusExporterConfig.from_options(self.options())

    @property
    def console(self) -> ConsoleConfig:
        return ConsoleConfig.from_options(self.options())

    @property
    def dsn(self) -> str:
        return self.store.dsn

    @property
    def shared_state(self) -> bool:
        """Whether the processors read what other collectors committed to the store (dedup.shared): auto means
        so when the store is a server, which other collectors may share, and not for the embedded one."""
        if self.dedup_shared == "auto":
            return self.store.is_server
        return self.dedup_shared == "true"

    @property
    def access_file(self) -> Path:
        return self.console.access_file


def store_config(config: Config) -> ClickHouseConfig:
    """The store's settings (exporters.clickhouse.ClickHouseConfig) from the storage.* options."""
    return config.store


def _convert(option: Option, value: Any, origin: str) -> Any:
    try:
        if option.type is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(text)
        if option.type is int:
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        if isinstance(value, dict | list):
            raise ValueError(value)
        if isinstance(value, bool):  # YAML's `require_token: true` means the text an env var would carry
            return "true" if value else "false"
        return str(value)
    except (ValueError, TypeError, OverflowError):
        raise ConfigError(f"{origin}: {option.path} must be a {option.type.__name__}, got {value!r}") from None


def _misplaced_key(document: dict, prefix: str = "") -> str | None:
    """What is wrong with the first key of the config file that is no option (a misspelt `auth.tokens_file`
    would otherwise leave ingest open without a word)."""
    paths = {option.path for option in OPTIONS}
    for key, value in document.items():
        path = f"{prefix}{key}"
        if path in paths:
            continue
        if not any(known.startswith(path + ".") for known in paths):
            return f"unknown option {path!r} (see the option table in README.md)"
        if not isinstance(value, dict):
            return f"{path} must be a mapping of options, got {type(value).__name__}"
        fault = _misplaced_key(value, path + ".")
        if fault:
            return fault
    return None


def _lookup(document: dict, path: str) -> Any:
    node: Any = document
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def load(
    flags: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    config_file: str | None = None,
) -> Config:
    environ = dict(os.environ) if environ is None else environ
    flags = flags or {}
    path = config_file or environ.get(CONFIG_FILE_ENV)
    document: Any = {}
    if path:
        document = _read_config_file(path)
    elif Path(DEFAULT_CONFIG_FILE).exists():
        path = DEFAULT_CONFIG_FILE
        document = _read_config_file(path)
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: the config file must be a mapping of options, got {type(document).__name__}")
    fault = _misplaced_key(document)
    if fault:
        raise ConfigError(f"{path}: {fault}")
    values: dict[str, Any] = {}
    for option in OPTIONS:
        value = option.default
        from_file = _lookup(document, option.path)
        if from_file is not None:
            value = _convert(option, from_file, str(path))
        if option.env in environ:
            value = _convert(option, environ[option.env], option.env)
        if flags.get(option.attribute) is not None:
            value = _convert(option, flags[option.attribute], option.flag)
        values[option.attribute] = value
    config = Config(**values)
    _validate(config)
    return config


def _read_config_file(path: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else exc.strerror or type(exc).__name__
        raise ConfigError(f"cannot read config file {path}: {reason}") from None
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None


class _Validates(Protocol):
    def validate(self) -> None: ...


def _validate(config: Config) -> None:
    components: tuple[_Validates, ...] = (
        config.receiver,
        config.console,
        config.prometheus,
        config.service,
        config.queue,
        config.processors,
        config.store,
    )
    for component in components:
        component.validate()
    if config.service.worker_count(config.queue.durable) > 1 and not config.queue.durable:
        raise ConfigError(
            f"workers={config.workers} needs queue.mode=wal: receiver worker processes hand requests to the durable "
            "queue (use workers=1 with queue.mode=memory, and with auto on a store shared with other replicas)"
        )
    # Raw rows of that long ago are read back at start-up (cumulative series resume from their last point,
    # stamped up to validation.max_age_days before it arrived): a shorter retention would count them again.
    processors = config.processors
    needed = processors.temporality_state_days + processors.max_age_days
    if 0 < config.storage_retention_days < needed:
        raise ConfigError(
            f"storage.retention_days must be 0 (keep raw rows forever) or at least {needed} "
            "(temporality.state_days + validation.max_age_days): raw rows that recent are read back at start-up"
        )
