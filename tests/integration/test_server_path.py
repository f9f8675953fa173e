"""The collector's figures on the ClickHouse server path: key suites run again with `storage.dsn=http://…`.

The same test functions as on the embedded store, collected here a second time with every collector (and the
views' store) pointed at a database of the test ClickHouse server (tests/support/clickhouse_http.py: ClickHouse's
HTTP interface over the same engine), so the store's server path is held to the same exact figures:

- tests/integration/test_workload_smoke.py: the known workload over every protocol and temporality;
- tests/integration/test_retries_restarts.py, its store parts: kill -9 after acknowledgements, cumulative
  series and the dedup window across restarts, a clean stop (the state a restart reads back, from the server);
- tests/integration/test_views_semantics.py: every view's figures from hand-computed facts;
- tests/console/test_report.py: the Admin-API-compatible report's exact records and paging.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from exporters.clickhouse import ClickHouseConfig, ClickHouseStore, create_store
from tests.console.conftest import role_token
from tests.console.test_report import (  # noqa: F401 (collected here again)
    test_bad_parameters_get_invalid_request_error,
    test_cursor_of_another_day_is_refused,
    test_each_day_yields_exactly_the_expected_records,
    test_idle_day_is_empty,
    test_limit_one_walks_every_record_once,
    test_max_limit_is_accepted,
)
from tests.console.workload import send_workload, tokens_yaml
from tests.integration.test_retries_restarts import (  # noqa: F401 (fixtures and tests collected here again)
    data_dir,
    started,
    test_a_retry_after_the_dedup_window_counts_again_before_and_after_a_restart,
    test_cumulative_series_continues_across_restart,
    test_kill9_after_acknowledgement_loses_nothing_and_adds_nothing,
    test_sigterm_exits_zero_logs_stopped_and_keeps_everything,
)
from tests.integration.test_views_semantics import (  # noqa: F401 (collected here again)
    test_events_alone_make_a_member_active,
    test_members_and_sessions_are_distinct_per_day_and_over_the_range,
    test_no_decisions_means_no_rate_and_idle_days_are_zero,
    test_organization_filter,
    test_session_count_is_used_when_session_ids_are_off,
    test_team_view_per_member_for_the_month,
    test_three_accepted_writes_and_one_reject,
)
from tests.integration.test_workload_smoke import test_known_workload_gives_exact_figures  # noqa: F401
from tests.support.clickhouse_http import ClickHouseHttpServer, collectors_on
from tests.support.collector import CONSOLE_TOKEN, CollectorProcess, write_access_file


@pytest.fixture(scope="module", autouse=True)
def _module_database(clickhouse_server: ClickHouseHttpServer) -> Iterator[str]:
    """Collectors shared by a module's tests (the console's) store into the module's own database."""
    with collectors_on(clickhouse_server.dsn(clickhouse_server.new_database("module"))) as dsn:
        yield dsn


@pytest.fixture(autouse=True)
def _test_database(_module_database: str, clickhouse_server: ClickHouseHttpServer) -> Iterator[str]:
    """Every collector a test starts (and restarts) stores into the test's own database."""
    with collectors_on(clickhouse_server.dsn(clickhouse_server.new_database())) as dsn:
        yield dsn


@pytest.fixture
def store(_test_database: str) -> Iterator[ClickHouseStore]:
    """test_views_semantics' store, on the server."""
    opened = create_store(ClickHouseConfig(dsn=_test_database))
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def console_collector(tmp_path_factory: pytest.TempPathFactory, _module_database: str) -> Iterator[CollectorProcess]:
    """tests/console/conftest.py's collector (every role, the known workload), on the server."""
    from console.roles import ROLES

    root = tmp_path_factory.mktemp("console-server")
    tokens = root / "tokens.yaml"
    tokens.write_text(tokens_yaml())
    directory = root / "data"
    write_access_file(
        directory / "access.yaml",
        [("test-admin", "admin", CONSOLE_TOKEN)] + [(f"{role}@example.com", role, role_token(role)) for role in ROLES],
    )
    history = {"CC_ANALYTICS_VALIDATION_MAX_AGE_DAYS": "100", "CC_ANALYTICS_TEMPORALITY_STATE_DAYS": "100"}
    process = CollectorProcess(data_dir=directory, tokens_file=tokens, extra_env=history).start()
    try:
        send_workload(process)
        yield process
    finally:
        process.kill()


def test_the_collectors_here_store_on_the_server(collector: CollectorProcess, _test_database: str) -> None:
    """The suites above really ran against the server: the collector says so, and its data directory holds
    no embedded store."""
    assert collector.environment()["CC_ANALYTICS_STORAGE_DSN"] == _test_database
    database = _test_database.rsplit("/", 1)[1]
    assert '"dsn": "http://***@127.0.0.1:' in collector.log() and database in collector.log()
    assert not (Path(collector.data_dir) / "chdb").exists()
