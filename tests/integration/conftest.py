"""Fixtures of the integration tests beyond tests/conftest.py's."""

from tests.support.clickhouse_http import clickhouse_server  # noqa: F401 (the test ClickHouse server fixture)
