from __future__ import annotations

from pathlib import Path

import pytest

from collector import config as configuration


def test_defaults_follow_the_architecture() -> None:
    config = configuration.load(environ={}, config_file=None)
    assert (config.bind, config.otlp_grpc_port, config.otlp_http_port, config.api_port, config.metrics_port) == (
        "127.0.0.1", 4317, 4318, 8080, 9464,
    )  # fmt: skip
    assert config.dsn == "chdb://" + str((Path("./data") / "chdb").resolve())
    assert config.privacy_store_content is False


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    file = tmp_path / "cc.yaml"
    file.write_text("otlp:\n  grpc_port: 5000\n  http_port: 5001\nprivacy:\n  store_content: true\n")
    environ = {"CC_ANALYTICS_OTLP_HTTP_PORT": "6001", "CC_ANALYTICS_STORAGE_DSN": "http://u:p@ch:8123/db"}
    config = configuration.load(flags={"api_port": "7000"}, environ=environ, config_file=str(file))
    assert (config.otlp_grpc_port, config.otlp_http_port, config.api_port) == (5000, 6001, 7000)
    assert config.privacy_store_content is True
    assert config.dsn == "http://u:p@ch:8123/db"


def test_every_option_has_an_env_var_a_default_and_a_line_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for option in configuration.OPTIONS:
        assert option.env.startswith("CC_ANALYTICS_") and option.doc
        assert f"`{option.env}`" in readme, option.env
    assert configuration.options_table() in readme, "README.md's option table differs from collector/config.py OPTIONS"


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"CC_ANALYTICS_API_PORT": "http"}, "api.port must be a int"),
        ({"CC_ANALYTICS_API_PORT": "70000"}, "api_port must be a port number"),
        ({"CC_ANALYTICS_STORAGE_DSN": "mysql://x"}, "storage.dsn must start with"),
        ({"CC_ANALYTICS_PRIVACY_STORE_CONTENT": "maybe"}, "privacy.store_content must be a bool"),
        ({"CC_ANALYTICS_MEMORY_TRIM_INTERVAL_MS": "-1"}, r"memory.trim_interval_ms must be 0 \(never\) or more"),
    ],
)
def test_bad_values_are_refused_with_the_reason(environ: dict[str, str], message: str) -> None:
    with pytest.raises(configuration.ConfigError, match=message):
        configuration.load(environ=environ)


@pytest.mark.parametrize(
    "environ, shared",
    [
        ({}, False),  # the embedded store: one process owns it
        ({"CC_ANALYTICS_STORAGE_DSN": "http://u:p@ch:8123/db"}, True),
        ({"CC_ANALYTICS_STORAGE_DSN": "https://u:p@ch:8443/db"}, True),
        ({"CC_ANALYTICS_STORAGE_DSN": "http://u:p@ch:8123/db", "CC_ANALYTICS_DEDUP_SHARED": "false"}, False),
        ({"CC_ANALYTICS_DEDUP_SHARED": "true"}, True),
    ],
)
def test_shared_state_is_on_for_a_server_store_unless_turned_off(environ: dict[str, str], shared: bool) -> None:
    assert configuration.load(environ=environ, config_file=None).shared_state is shared


def test_dedup_shared_takes_auto_true_or_false() -> None:
    with pytest.raises(configuration.ConfigError, match="dedup.shared must be auto, true or false"):
        configuration.load(environ={"CC_ANALYTICS_DEDUP_SHARED": "yes"}, config_file=None)
