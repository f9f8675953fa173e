"""The storage.* options: their defaults reach the store, and settings that cannot work are refused with the
option's name and the reason before anything starts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from collector import config as configuration
from exporters.clickhouse import ClickHouseConfig

SERVER = {"CC_ANALYTICS_STORAGE_DSN": "http://u:p@clickhouse:8123/analytics"}


def test_defaults_reach_the_store() -> None:
    store = configuration.store_config(configuration.load(environ={}, config_file=None))
    assert (store.cluster, store.retention_days, store.pool_size, store.fsync_after_insert) == ("", 400, 4, False)


def test_options_reach_the_store() -> None:
    environ = {**SERVER, "CC_ANALYTICS_STORAGE_CLUSTER": "cc_analytics", "CC_ANALYTICS_STORAGE_RETENTION_DAYS": "0",
               "CC_ANALYTICS_STORAGE_POOL_SIZE": "8", "CC_ANALYTICS_STORAGE_FSYNC": "true"}  # fmt: skip
    store = configuration.store_config(configuration.load(environ=environ, config_file=None))
    assert store == ClickHouseConfig(
        dsn="http://u:p@clickhouse:8123/analytics", fsync_after_insert=True, cluster="cc_analytics", retention_days=0,
        pool_size=8, journal_dir=str(Path("data").resolve()),  # the default data_dir, ./data
    )  # fmt: skip


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"CC_ANALYTICS_STORAGE_RETENTION_DAYS": "30"},
         "storage.retention_days must be 0 (keep raw rows forever) or at least 70 "
         "(temporality.state_days + validation.max_age_days)"),
        ({"CC_ANALYTICS_STORAGE_RETENTION_DAYS": "150", "CC_ANALYTICS_TEMPORALITY_STATE_DAYS": "100",
          "CC_ANALYTICS_VALIDATION_MAX_AGE_DAYS": "100"}, "or at least 200 "),
        ({"CC_ANALYTICS_STORAGE_RETENTION_DAYS": "-1"}, "storage.retention_days must be 0 (keep raw rows forever) or more"),
        ({"CC_ANALYTICS_STORAGE_CLUSTER": "cc_analytics"}, "storage.cluster needs a ClickHouse server"),
        ({**SERVER, "CC_ANALYTICS_STORAGE_CLUSTER": "a cluster; DROP"}, "storage.cluster: cluster name 'a cluster; DROP'"),
        ({**SERVER, "CC_ANALYTICS_STORAGE_POOL_SIZE": "0"}, "storage.pool_size must be between 1 and 32"),
    ],
)  # fmt: skip
def test_settings_that_cannot_work_are_refused_with_the_reason(environ: dict[str, str], message: str) -> None:
    with pytest.raises(configuration.ConfigError, match=re.escape(message)):
        configuration.load(environ=environ, config_file=None)


def test_the_retention_floor_follows_the_state_the_collector_reads_back() -> None:
    environ = {"CC_ANALYTICS_STORAGE_RETENTION_DAYS": "70"}
    assert configuration.load(environ=environ, config_file=None).storage_retention_days == 70


_ENGINE_ALLOCATOR = """
import os, sys, tempfile
from exporters.clickhouse import ClickHouseConfig, ClickHouseStore
store = ClickHouseStore(ClickHouseConfig(dsn="chdb://" + tempfile.mkdtemp(), return_freed_memory=sys.argv[1] == "on"))
store.connect()
store.close()
print(os.environ.get("JE_MALLOC_CONF", "<unset>"))
"""


@pytest.mark.parametrize(
    ("option", "operator", "engine_reads"),
    [
        ("on", None, "dirty_decay_ms:500,muzzy_decay_ms:0"),
        ("off", None, "<unset>"),
        ("on", "narenas:2", "narenas:2"),  # the operator's own allocator options win
    ],
)
def test_the_embedded_engine_returns_freed_memory_unless_told_otherwise(
    option: str, operator: str | None, engine_reads: str
) -> None:
    # A process of its own: the engine reads its allocator's options once, when it loads.
    environ = {key: value for key, value in os.environ.items() if key != "JE_MALLOC_CONF"}
    if operator is not None:
        environ["JE_MALLOC_CONF"] = operator
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", _ENGINE_ALLOCATOR, option], cwd=root, env=environ, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == engine_reads
