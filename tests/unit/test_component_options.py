"""Each component declares its option rows and its config (from_options, validate); the collector gathers the rows
into the one option table, and starts the components in order and shuts them down in reverse."""

from __future__ import annotations

import ast
import asyncio
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from collector import config as configuration
from collector.app import _pipeline_config
from collector.cores import available_cores
from collector.lifecycle import Component, Lifecycle
from collector.service import ServiceConfig
from collector.wal.config import QueueConfig
from console.config import ConsoleConfig
from exporters.clickhouse.config import ClickHouseConfig
from exporters.prometheus.config import PrometheusExporterConfig
from pdata.options import ConfigError
from processors.config import ProcessorsConfig
from receiver.otlp.config import OtlpReceiverConfig

ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = ("pdata", "receiver", "processors", "exporters", "console")


def _defaults(**changes: Any) -> dict[str, Any]:
    values = {option.path: option.default for option in configuration.OPTIONS}
    values.update({path.replace("__", "."): value for path, value in changes.items()})
    return values


def test_every_components_rows_are_in_the_table_exactly_once() -> None:
    component_rows = [row for rows in configuration.COMPONENT_OPTIONS.values() for row in rows]
    assert Counter(configuration.OPTIONS) == Counter(component_rows)
    assert len(configuration.OPTIONS) == len(set(configuration.OPTIONS)) == 64
    for attribute in ("path", "env", "flag", "attribute"):
        names = [getattr(option, attribute) for option in configuration.OPTIONS]
        assert len(names) == len(set(names)), f"two options share an {attribute}"
    # README.md's order names every row once, so no row's place in the table is left to chance.
    assert sorted(configuration.TABLE_ORDER) == sorted(option.path for option in configuration.OPTIONS)
    assert [option.path for option in configuration.OPTIONS] == list(configuration.TABLE_ORDER)


def test_each_option_belongs_to_the_component_that_reads_it() -> None:
    owners = {
        option.path: component
        for component, rows in configuration.COMPONENT_OPTIONS.items()
        for option in rows
    }  # fmt: skip
    assert {path for path, owner in owners.items() if owner == "receiver/otlp"} == {
        "otlp.grpc_port", "otlp.http_port", "otlp.grpc_bdp_probe", "limits.max_request_bytes", "limits.max_request_items",
        "limits.max_inflight_bytes",
        "limits.max_concurrent_rpcs", "limits.max_calls_per_peer", "limits.body_timeout_seconds",
        "auth.tokens_file", "auth.require_token", "auth.organization_mismatch",
    }  # fmt: skip
    assert {path for path, owner in owners.items() if owner == "collector"} == {
        "bind", "http.allowed_hosts", "data_dir", "limits.max_queued_items", "limits.max_connections",
        "limits.header_timeout_seconds", "limits.keep_alive_seconds", "workers", "log.level", "dead_letter.max_bytes",
        "memory.trim_interval_ms",
    }  # fmt: skip
    prefixes = {
        "processors": ("dedup.", "identity.", "privacy.", "temporality.", "validation."),
        "exporters/clickhouse": ("storage.",),
        "exporters/prometheus": ("metrics.",),
        "console": ("api.", "console."),
        "collector/wal": ("queue.",),
    }
    for component, owned in prefixes.items():
        assert {path for path, owner in owners.items() if owner == component} == {
            path for path in owners if path.startswith(owned)
        }, component


def test_the_defaults_make_every_components_config() -> None:
    values = _defaults(data_dir="/srv/cc")
    receiver = OtlpReceiverConfig.from_options(values)
    receiver.validate()
    assert receiver == OtlpReceiverConfig()  # the receiver's own defaults are the options' defaults
    assert ProcessorsConfig.from_options(values) == ProcessorsConfig()
    assert ClickHouseConfig.from_options(values) == ClickHouseConfig(dsn="chdb:///srv/cc/chdb", journal_dir="/srv/cc")
    assert PrometheusExporterConfig.from_options(values) == PrometheusExporterConfig(
        series_journal="/srv/cc/prometheus-series.jsonl", self_metrics_carryover="/srv/cc/prometheus-self-metrics.json"
    )
    assert ConsoleConfig.from_options(values) == ConsoleConfig(access_file=Path("/srv/cc/access.yaml"))
    assert ServiceConfig.from_options(values) == ServiceConfig(data_dir=Path("/srv/cc"))


def test_a_value_from_the_environment_reaches_its_component() -> None:
    environ = {
        "CC_ANALYTICS_LIMITS_BODY_TIMEOUT_SECONDS": "7",
        "CC_ANALYTICS_AUTH_REQUIRE_TOKEN": "true",
        "CC_ANALYTICS_METRICS_LABELS": "model, type",
        "CC_ANALYTICS_CONSOLE_ACCESS_FILE": "/etc/cc/access.yaml",
        "CC_ANALYTICS_VALIDATION_MAX_AGE_DAYS": "50",
        "CC_ANALYTICS_STORAGE_POOL_SIZE": "6",
        "CC_ANALYTICS_LIMITS_KEEP_ALIVE_SECONDS": "9",
        "CC_ANALYTICS_OTLP_GRPC_BDP_PROBE": "true",
    }
    config = configuration.load(environ=environ, config_file=None)
    assert (config.receiver.body_timeout_s, config.receiver.require_token) == (7.0, "true")
    assert config.prometheus.labels == ("model", "type")
    assert config.console.access_file == Path("/etc/cc/access.yaml")
    # validation.max_age_days is applied up to temporality.state_days (35 by default).
    assert (config.processors.validation_max_age_days, config.processors.max_age_days) == (50, 35)
    assert config.store.pool_size == 6
    assert config.service.keep_alive_seconds == 9
    assert config.receiver.grpc_bdp_probe is True


@pytest.mark.parametrize(
    ("component", "changes", "message"),
    [
        (OtlpReceiverConfig, {"limits__max_request_bytes": 1000}, "limits.max_request_bytes must be at least 1024"),
        (OtlpReceiverConfig, {"otlp__grpc_port": 70000}, "otlp_grpc_port must be a port number, got 70000"),
        (OtlpReceiverConfig, {"auth__require_token": "maybe"}, "auth.require_token must be auto, true or false"),
        (OtlpReceiverConfig, {"limits__body_timeout_seconds": 0}, "limits.body_timeout_seconds must be at least 1"),
        (ProcessorsConfig, {"temporality__max_series": 0}, "temporality.max_series must be at least 1"),
        (ProcessorsConfig, {"dedup__shared": "yes"}, "dedup.shared must be auto, true or false"),
        (ProcessorsConfig, {"validation__max_ahead_seconds": -1}, "validation.max_ahead_seconds must be 0 or more"),
        (ClickHouseConfig, {"storage__pool_size": 33}, "storage.pool_size must be between 1 and 32"),
        (ClickHouseConfig, {"storage__dsn": "mysql://db"}, "storage.dsn must start with chdb://, http:// or https://"),
        (ClickHouseConfig, {"storage__summaries_refresh_seconds": -1}, "storage.summaries_refresh_seconds must be 0 (no day summaries) or more"),
        (PrometheusExporterConfig, {"metrics__max_series_per_metric": 1}, "metrics.max_series_per_metric must be at least 2"),
        (PrometheusExporterConfig, {"metrics__labels": "model,session_id"}, "metrics.labels: session_id is never exposed"),
        (PrometheusExporterConfig, {"metrics__port": -1}, "metrics_port must be a port number, got -1"),
        (ConsoleConfig, {"console__session_hours": 0}, "console.session_hours must be at least 1"),
        (ConsoleConfig, {"api__port": 65536}, "api_port must be a port number, got 65536"),
        (ServiceConfig, {"log__level": "loud"}, "log.level must be debug, info, warning or error"),
        (ServiceConfig, {"limits__max_connections": 15}, "limits.max_connections must be at least 16"),
        (ServiceConfig, {"dead_letter__max_bytes": -1}, "dead_letter.max_bytes must be 0 (no dead-letter file) or more"),
        (ServiceConfig, {"workers": "0"}, "workers must be auto or a whole number from 1 to 256, got '0'"),
        (ServiceConfig, {"workers": "two"}, "workers must be auto or a whole number from 1 to 256, got 'two'"),
        (QueueConfig, {"queue__drain_group_items": 0}, "queue.drain_group_items must be between 1 and 1000000"),
    ],
)  # fmt: skip
def test_each_component_refuses_a_bad_value_with_its_message(
    component: Any, changes: dict[str, Any], message: str
) -> None:
    values = _defaults(**changes)
    with pytest.raises(ConfigError, match=re.escape(message)):
        component.from_options(values).validate()
    # The same value given to the collector stops it with the same line.
    env = {f"CC_ANALYTICS_{path.replace('__', '_').upper()}": str(value) for path, value in changes.items()}
    with pytest.raises(configuration.ConfigError, match=re.escape(message)):
        configuration.load(environ=env, config_file=None)


def test_the_components_never_import_the_collector() -> None:
    found = []
    for package in COMPONENTS:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                modules = (
                    [alias.name for alias in node.names] if isinstance(node, ast.Import)
                    else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                    else []
                )  # fmt: skip
                found += [f"{path.relative_to(ROOT)}:{node.lineno}" for m in modules if m.split(".")[0] == "collector"]
    assert found == []


def test_components_stop_in_reverse_order_and_a_failing_stop_does_not_keep_the_others_open() -> None:
    events: list[str] = []

    def component(name: str, fail_on_stop: bool = False) -> Component:
        async def start() -> None:
            events.append(f"start {name}")

        async def stop() -> None:
            events.append(f"stop {name}")
            if fail_on_stop:
                raise OSError(f"{name} could not stop")

        return Component(name, start=start, shutdown=stop)

    async def run() -> None:
        lifecycle = Lifecycle()
        for name in ("store", "exporter", "pipeline", "listeners"):
            await lifecycle.start(component(name, fail_on_stop=name == "pipeline"))
        with pytest.raises(OSError, match="pipeline could not stop"):
            await lifecycle.shutdown()
        await lifecycle.shutdown()  # nothing is stopped twice

    asyncio.run(run())
    assert events == [
        "start store", "start exporter", "start pipeline", "start listeners",
        "stop listeners", "stop pipeline", "stop exporter", "stop store",
    ]  # fmt: skip


def test_a_short_dedup_window_shortens_the_queue_age_unless_one_is_set() -> None:
    # A replayed record is recognised only within the dedup window: by default the queue's age bound follows a
    # shorter window (tests and small installs use one); one set longer than the window is refused.
    default = configuration.load(environ={}, config_file=None)
    assert (default.queue.durable, default.queue.max_age_seconds) == (True, 6 * 3600)
    short = configuration.load(environ={"CC_ANALYTICS_DEDUP_WINDOW_SECONDS": "5"}, config_file=None)
    assert (short.dedup_window_seconds, short.queue.max_age_seconds) == (5, 5)
    with pytest.raises(ConfigError, match=r"queue.max_age_seconds must be between 1 and dedup.window_seconds \(5\)"):
        configuration.load(
            environ={"CC_ANALYTICS_DEDUP_WINDOW_SECONDS": "5", "CC_ANALYTICS_QUEUE_MAX_AGE_SECONDS": "60"},
            config_file=None,
        )
    # In memory mode nothing is replayed: any age goes with any window.
    memory = configuration.load(
        environ={
            "CC_ANALYTICS_DEDUP_WINDOW_SECONDS": "5",
            "CC_ANALYTICS_QUEUE_MAX_AGE_SECONDS": "60",
            "CC_ANALYTICS_QUEUE_MODE": "memory",
        },
        config_file=None,
    )
    assert memory.dedup_window_seconds == 5
    with pytest.raises(
        ConfigError, match=r"queue.max_age_seconds must be 0 \(six hours, at most dedup.window_seconds\) or more"
    ):
        configuration.load(environ={"CC_ANALYTICS_QUEUE_MAX_AGE_SECONDS": "-1"}, config_file=None)
    with pytest.raises(ConfigError, match="dedup.window_seconds must be at least 1"):
        configuration.load(environ={"CC_ANALYTICS_DEDUP_WINDOW_SECONDS": "0"}, config_file=None)


def test_several_workers_need_the_durable_queue() -> None:
    with pytest.raises(configuration.ConfigError, match="workers=2 needs queue.mode=wal"):
        configuration.load(environ={"CC_ANALYTICS_WORKERS": "2", "CC_ANALYTICS_QUEUE_MODE": "memory"}, config_file=None)
    config = configuration.load(environ={"CC_ANALYTICS_WORKERS": "2"}, config_file=None)
    assert (config.queue.durable, config.service.worker_count(config.queue.durable)) == (True, 2)
    # auto: one receiver process per core the collector may use with the durable queue, one without it.
    wal = configuration.load(environ={}, config_file=None)
    assert wal.service.worker_count(wal.queue.durable) == available_cores()
    memory = configuration.load(environ={"CC_ANALYTICS_QUEUE_MODE": "memory"}, config_file=None)
    assert memory.service.worker_count(memory.queue.durable) == 1


def test_auto_answers_after_the_commit_on_a_store_shared_with_other_replicas() -> None:
    server = {"CC_ANALYTICS_STORAGE_DSN": "http://user:secret@clickhouse:8123/default"}
    shared = configuration.load(environ=server, config_file=None)
    assert (shared.shared_state, shared.queue.durable, shared.service.worker_count(shared.queue.durable)) == (
        True, False, 1,
    )  # fmt: skip
    alone = configuration.load(environ={**server, "CC_ANALYTICS_DEDUP_SHARED": "false"}, config_file=None)
    assert (alone.shared_state, alone.queue.durable) == (False, True)
    chosen = configuration.load(environ={**server, "CC_ANALYTICS_QUEUE_MODE": "wal"}, config_file=None)
    assert (chosen.shared_state, chosen.queue.durable) == (True, True)
    with pytest.raises(ConfigError, match="workers=2 needs queue.mode=wal"):
        configuration.load(environ={**server, "CC_ANALYTICS_WORKERS": "2"}, config_file=None)


def test_the_writer_holds_two_drain_groups_with_the_durable_queue_and_the_limit_without() -> None:
    memory = _pipeline_config(configuration.load(environ={"CC_ANALYTICS_QUEUE_MODE": "memory"}, config_file=None))
    assert (memory.max_queued_items, memory.max_group_items) == (20_000, 50_000)
    wal = configuration.load(
        environ={"CC_ANALYTICS_QUEUE_MODE": "wal", "CC_ANALYTICS_QUEUE_DRAIN_GROUP_ITEMS": "7000"}, config_file=None
    )
    assert wal.queue.drain_group_items == 7000
    two_groups = _pipeline_config(wal)
    assert (two_groups.max_queued_items, two_groups.max_group_items) == (14_000, 50_000)
    large = configuration.load(
        environ={"CC_ANALYTICS_QUEUE_MODE": "wal", "CC_ANALYTICS_QUEUE_DRAIN_GROUP_ITEMS": "80000"}, config_file=None
    )
    large_groups = _pipeline_config(large)
    assert (large_groups.max_queued_items, large_groups.max_group_items) == (160_000, 80_000)
