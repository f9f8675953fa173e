"""Configuration: defaults < cc-analytics.yaml < CC_ANALYTICS_* environment < command-line flags.

Every option is one row of OPTIONS: its YAML path, its environment variable, its type, its default
and its line of documentation (README.md's option table is this list).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True, slots=True)
class Option:
    path: str  # dotted YAML path
    type: type
    default: Any
    doc: str

    @property
    def env(self) -> str:
        return "CC_ANALYTICS_" + self.path.replace(".", "_").upper()

    @property
    def flag(self) -> str:
        return "--" + self.path.replace(".", "-").replace("_", "-")

    @property
    def attribute(self) -> str:
        return self.path.replace(".", "_")


OPTIONS: tuple[Option, ...] = (
    Option("bind", str, "127.0.0.1", "address every listener binds to"),
    Option("otlp.grpc_port", int, 4317, "OTLP/gRPC port"),
    Option("otlp.http_port", int, 4318, "OTLP/HTTP port"),
    Option("api.port", int, 8080, "analytics API port"),
    Option("http.allowed_hosts", str, "", "comma-separated host names the HTTP listeners (OTLP/HTTP, console, /metrics) answer to, any port (`*`: any); empty means only localhost, 127.0.0.1 and [::1] when bound to loopback, any name otherwise; other names get 403 (DNS rebinding)"),
    Option("metrics.port", int, 9464, "Prometheus /metrics port (0 disables it)"),
    Option("metrics.labels", str, "organization_id,model,type,tool_name,decision,source,language,terminal_type,query_source,start_type,team", "comma-separated allow-list of labels on Claude Code's counters (session_id is never allowed)"),
    Option("metrics.member_labels", bool, False, "add a per-member `member` label to Claude Code's counters (one series per person)"),
    Option("metrics.max_series_per_metric", int, 5000, "cap of series per counter; points of further label sets fold into a series labelled `other`"),
    Option("metrics.series_ttl_seconds", int, 8 * 86400, "forget a counter series after this long without a point (0: never); 8 days keeps a series through a long weekend"),
    Option("metrics.new_series_hold_seconds", int, 75, "expose a new counter series (and every counter after start-up) at 0 this long before its value, so Prometheus counts the first increment; set it above the longest scrape interval"),
    Option("metrics.bind", str, "", "address /metrics binds to; empty means the `bind` address (use it to keep /metrics private while OTLP is open)"),
    Option("metrics.scrape_token_file", str, "", "file holding a token /metrics requires, as a bearer token or basic auth's password; empty means no token"),
    Option("metrics.openmetrics", bool, False, "answer scrapers that ask for OpenMetrics with it, counters carrying `_created` (for Prometheus with created-timestamp ingestion; older ones store each `_created` as an extra series)"),
    Option("metrics.max_label_value_length", int, 128, "label values of Claude Code's counters are cut to this many characters (counted in cc_analytics_label_values_truncated_total), so a sender cannot grow /metrics without bound"),
    Option("metrics.gauge_cache_seconds", int, 15, "how long the derived gauges (active users, sessions, spend…) reuse one read of the rollups"),
    Option("data_dir", str, "./data", "where the embedded store keeps its files"),
    Option("storage.dsn", str, "", "chdb:///dir (embedded) or http(s)://user:pass@host:8123/db; empty means chdb:///<data_dir>/chdb"),
    Option("storage.fsync", bool, False, "fsync every insert (survives power loss, slower)"),
    Option("storage.cluster", str, "", "ClickHouse cluster name (server only): migrations run ON CLUSTER with Replicated*MergeTree tables and Distributed tables for reads (see exporters/clickhouse/README.md); empty means one server"),
    Option("storage.retention_days", int, 400, "raw points and events older than this many days are dropped (a TTL); the rollups every view reads keep their history (0: keep raw rows forever; else at least temporality.state_days + validation.max_age_days)"),
    Option("storage.pool_size", int, 4, "connections to a ClickHouse server used at once (the writer, the API, the gauges); the embedded store has one"),
    Option("limits.max_request_bytes", int, 16 * 1024 * 1024, "largest request body, as sent and once inflated"),
    Option("limits.max_queued_items", int, 20_000, "points + records waiting to be written before senders get 429 / RESOURCE_EXHAUSTED"),
    Option("limits.max_inflight_bytes", int, 8 * 1024 * 1024, "bytes of (inflated) request bodies taken in and not yet answered, over gRPC and HTTP; past it requests are refused at once with 429 / RESOURCE_EXHAUSTED and a retry hint (one request larger than this is still taken when nothing else is in flight)"),
    Option("limits.max_concurrent_rpcs", int, 256, "gRPC calls handled at once; grpcio refuses more with RESOURCE_EXHAUSTED, without a retry hint (0: no cap)"),
    Option("limits.max_calls_per_peer", int, 32, "gRPC calls in progress at once on one client connection; more are refused at once with RESOURCE_EXHAUSTED and a retry hint, so one client cannot take every call slot (0: no cap)"),
    Option("limits.max_connections", int, 1000, "open connections per listener (OTLP/gRPC, OTLP/HTTP, API, /metrics); past it an HTTP listener closes its oldest connection still waiting for a request (else the new one), gRPC closes the new one; lowered at start-up so all listeners fit the open-file limit"),
    Option("limits.header_timeout_seconds", int, 10, "a connection must send a whole request's headers (gRPC: its HTTP/2 handshake) within this many seconds of connecting or of its last answer, else it is closed"),
    Option("limits.body_timeout_seconds", int, 30, "a request's body (HTTP) or message (gRPC) must arrive in full within this many seconds of its headers, else 408 / DEADLINE_EXCEEDED and nothing of it is kept"),
    Option("limits.keep_alive_seconds", int, 5, "an HTTP connection idle this long after an answer is closed"),
    Option("dedup.window_seconds", int, 86_400, "how long a delivered request is remembered, to count a retry once"),
    Option("dedup.shared", str, "auto", "check each group of requests against the store before counting it, so that replicas sharing one store count a request retried on another replica once and continue every cumulative series from its last stored point (one query per group for each); true, false, or auto (on for an http(s) storage.dsn, off for the embedded store, which one process owns)"),
    Option("auth.tokens_file", str, "", "YAML file of ingest tokens (token or sha256, name, api_key_id, organization_id, allowed_email_domains); re-read when it changes"),
    Option("auth.require_token", str, "auto", "true, false, or auto (required when a tokens file is set, even one listing no token)"),
    Option("auth.organization_mismatch", str, "refuse", "a point or record whose organization.id is not its ingest token's organization: refuse (partial success with the reason) or override (counted in the token's organization)"),
    Option("identity.directory_file", str, "", "YAML file mapping user.id to members and teams"),
    Option("privacy.store_content", bool, False, "store everything Claude Code sends (prompts, responses, tool parameters, error text, raw API bodies, free log bodies); off: only an allow-list of non-content fields per metric and event, content reduced to its length"),
    Option("temporality.state_days", int, 35, "how far back cumulative series are resumed after a restart, and how long one is kept without a point (by arrival time, whatever the points' timestamps)"),
    Option("temporality.max_series", int, 200_000, "cumulative series remembered at once (~600 bytes each); points of further new series are refused (partial success) until idle ones expire"),
    Option("validation.max_age_days", int, 35, "points and records stamped more than this many days before their arrival are refused with the reason (at most temporality.state_days is used: an older cumulative point would count again after a restart)"),
    Option("validation.max_ahead_seconds", int, 3600, "points and records stamped more than this many seconds after their arrival are refused with the reason (clock skew allowance; a far-future time would wrap the daily rollups)"),
    Option("log.level", str, "info", "debug, info, warning or error"),
    Option("dead_letter.max_bytes", int, 64 * 1024 * 1024, "bound of <data_dir>/dead-letter.jsonl, where batches the store refused while it answered (answered 400 / INVALID_ARGUMENT) are set aside, one JSON line each, privacy-filtered as stored; past it lines are not written and cc_analytics_dead_letter_batches_total{outcome=\"not_written\"} counts them (0: no file)"),
    Option("console.access_file", str, "", "YAML file of console principals (managed by `cc-analytics access`); empty means <data_dir>/access.yaml"),
    Option("console.trusted_header", str, "", "request header naming the signed-in principal, set by a reverse proxy doing single sign-on (e.g. X-Forwarded-Email); empty trusts no header"),
    Option("console.session_hours", int, 12, "how long a console sign-in lasts"),
    Option("console.cookie_secure", bool, False, "mark the session cookie Secure (set when the console is served over https)"),
    Option("console.initial_owner_token_file", str, "", "file holding the first Primary Owner's token, or sha256:<hex digest> of it, used on a first start with no principals instead of printing a login URL"),
)  # fmt: skip


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


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Config:
    bind: str
    otlp_grpc_port: int
    otlp_http_port: int
    api_port: int
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
    limits_max_request_bytes: int
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
    log_level: str
    console_access_file: str
    console_trusted_header: str
    console_session_hours: int
    console_cookie_secure: bool
    console_initial_owner_token_file: str
    dead_letter_max_bytes: int

    @property
    def dsn(self) -> str:
        if self.storage_dsn:
            return self.storage_dsn
        return "chdb://" + str((Path(self.data_dir) / "chdb").resolve())

    @property
    def shared_state(self) -> bool:
        """Whether the processors read what other collectors committed to the store (dedup.shared)."""
        if self.dedup_shared == "auto":
            return self.dsn.startswith(("http://", "https://"))
        return self.dedup_shared == "true"

    @property
    def access_file(self) -> Path:
        return Path(self.console_access_file) if self.console_access_file else Path(self.data_dir) / "access.yaml"


def prometheus_exporter_config(config: Config):
    """The Prometheus exporter's settings (exporters.prometheus.PrometheusExporterConfig) from the metrics.* options."""
    from exporters.prometheus.config import PrometheusExporterConfig

    return PrometheusExporterConfig(
        labels=PrometheusExporterConfig.parse_labels(config.metrics_labels),
        member_labels=config.metrics_member_labels,
        max_series_per_metric=config.metrics_max_series_per_metric,
        series_ttl_seconds=float(config.metrics_series_ttl_seconds),
        new_series_hold_seconds=float(config.metrics_new_series_hold_seconds),
        gauge_cache_seconds=float(config.metrics_gauge_cache_seconds),
        series_journal=str(Path(config.data_dir) / "prometheus-series.jsonl"),
        scrape_token_file=config.metrics_scrape_token_file,
        openmetrics=config.metrics_openmetrics,
        max_label_value_length=config.metrics_max_label_value_length,
    )


def store_config(config: Config):
    """The store's settings (exporters.clickhouse.ClickHouseConfig) from the storage.* options."""
    from exporters.clickhouse.config import ClickHouseConfig

    return ClickHouseConfig(
        dsn=config.dsn,
        fsync_after_insert=config.storage_fsync,
        cluster=config.storage_cluster,
        retention_days=config.storage_retention_days,
        pool_size=config.storage_pool_size,
    ).check()


def value_policy(config: Config):
    """The processors' value and time policy (processors.policy.ValuePolicy) from the validation.* options."""
    from processors.policy import TimeWindow, ValuePolicy

    # Past the cumulative state's window a restart forgets a series, so an older point would count again.
    max_age_days = min(config.validation_max_age_days, config.temporality_state_days)
    return ValuePolicy(
        TimeWindow(
            max_age_ns=max_age_days * 86_400 * 1_000_000_000,
            max_ahead_ns=config.validation_max_ahead_seconds * 1_000_000_000,
        )
    )


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


def _validate(config: Config) -> None:
    for name in ("otlp_grpc_port", "otlp_http_port", "api_port", "metrics_port"):
        port = getattr(config, name)
        if not 0 <= port <= 65535:
            raise ConfigError(f"{name} must be a port number, got {port}")
    if config.limits_max_request_bytes < 1024:
        raise ConfigError("limits.max_request_bytes must be at least 1024")
    if config.limits_max_inflight_bytes < 1024:
        raise ConfigError("limits.max_inflight_bytes must be at least 1024")
    if config.limits_max_queued_items < 1:
        raise ConfigError("limits.max_queued_items must be at least 1")
    if config.limits_max_concurrent_rpcs < 0:
        raise ConfigError("limits.max_concurrent_rpcs must be 0 (no cap) or more")
    if config.limits_max_calls_per_peer < 0:
        raise ConfigError("limits.max_calls_per_peer must be 0 (no cap) or more")
    if config.limits_max_connections < 16:
        raise ConfigError("limits.max_connections must be at least 16")
    for name in ("header_timeout_seconds", "body_timeout_seconds", "keep_alive_seconds"):
        if getattr(config, f"limits_{name}") < 1:
            raise ConfigError(f"limits.{name} must be at least 1")
    if config.temporality_max_series < 1:
        raise ConfigError("temporality.max_series must be at least 1")
    if config.dedup_shared not in ("auto", "true", "false"):
        raise ConfigError("dedup.shared must be auto, true or false")
    if config.auth_require_token not in ("auto", "true", "false"):
        raise ConfigError("auth.require_token must be auto, true or false")
    if config.auth_organization_mismatch not in ("refuse", "override"):
        raise ConfigError("auth.organization_mismatch must be refuse or override")
    if config.console_session_hours < 1:
        raise ConfigError("console.session_hours must be at least 1")
    if config.validation_max_age_days < 1:
        raise ConfigError("validation.max_age_days must be at least 1")
    if config.validation_max_ahead_seconds < 0:
        raise ConfigError("validation.max_ahead_seconds must be 0 or more")
    from exporters.prometheus.config import PrometheusConfigError

    try:
        prometheus_exporter_config(config)
    except PrometheusConfigError as exc:
        raise ConfigError(str(exc)) from None
    if config.dead_letter_max_bytes < 0:
        raise ConfigError("dead_letter.max_bytes must be 0 (no dead-letter file) or more")
    if config.log_level not in ("debug", "info", "warning", "error"):
        raise ConfigError("log.level must be debug, info, warning or error")
    if config.storage_dsn and not config.storage_dsn.startswith(("chdb:", "http://", "https://")):
        raise ConfigError("storage.dsn must start with chdb://, http:// or https://")
    _validate_store(config)


def _validate_store(config: Config) -> None:
    from exporters.clickhouse.config import ClickHouseConfigError

    try:
        store_config(config)
    except ClickHouseConfigError as exc:
        raise ConfigError(str(exc)) from None
    # Raw rows of that long ago are read back at start-up (cumulative series resume from their last point,
    # stamped up to validation.max_age_days before it arrived): a shorter retention would count them again.
    needed = config.temporality_state_days + min(config.validation_max_age_days, config.temporality_state_days)
    if 0 < config.storage_retention_days < needed:
        raise ConfigError(
            f"storage.retention_days must be 0 (keep raw rows forever) or at least {needed} "
            "(temporality.state_days + validation.max_age_days): raw rows that recent are read back at start-up"
        )
