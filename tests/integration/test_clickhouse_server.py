"""The store on a ClickHouse server (tests/support/clickhouse_http.py: ClickHouse's HTTP interface over the same
engine chDB embeds): migrations by several collectors at once, the cluster DDL, retention, fsync, the client
pool, outages and refusals. The figures suites on this path are in test_server_path.py."""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from console import readmodels
from exporters.clickhouse import ClickHouseConfig, ClickHouseStore, QueryFailed, create_store, tablesettings
from exporters.clickhouse.migrations import Migrator, SchemaDdl, load_migrations
from tests.integration.test_views_semantics import ALICE, LINES, metric, ns, write, write_alices_edits
from tests.support import otlp_raw as otlp
from tests.support.clickhouse_http import ClickHouseHttpServer
from tests.support.collector import CollectorProcess

ORG = "org-server"


@pytest.fixture
def database(clickhouse_server: ClickHouseHttpServer) -> str:
    return clickhouse_server.new_database()


@pytest.fixture
def dsn(clickhouse_server: ClickHouseHttpServer, database: str) -> str:
    return clickhouse_server.dsn(database)


@pytest.fixture
def raw(clickhouse_server: ClickHouseHttpServer, database: str) -> Iterator:
    """A client of the test's database, created empty, for what the test reads or sets up itself."""
    with clickhouse_server.client() as client:
        client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    client = clickhouse_server.client(database)
    yield client
    client.close()


def _schema(client, database: str) -> dict[str, str]:
    names = [
        row[0] for row in client.query(f"SELECT name FROM system.tables WHERE database = '{database}'").result_rows
    ]
    return {name: client.command(f"SHOW CREATE TABLE {database}.{name}").replace(f"{database}.", "") for name in names}


# --- the test server itself ---------------------------------------------------------------------------------------


def test_the_test_server_answers_as_clickhouse_does(clickhouse_server: ClickHouseHttpServer) -> None:
    url = clickhouse_server.url
    auth = {
        "Authorization": "Basic "
        + base64.b64encode(f"{clickhouse_server.user}:{clickhouse_server.password}".encode()).decode()
    }
    assert httpx.get(f"{url}/ping").text == "Ok.\n"

    answer = httpx.get(url, params={"query": "SELECT 1 + {n:UInt8}", "param_n": "41"}, headers=auth)
    assert (answer.status_code, answer.text) == (200, "42\n")
    assert answer.headers["X-ClickHouse-Format"] == "TabSeparated"
    assert answer.headers["X-ClickHouse-Timezone"]
    assert json.loads(answer.headers["X-ClickHouse-Summary"])["read_rows"] == "1"
    assert answer.headers["X-ClickHouse-Query-Id"]

    # A gzipped query in the body, the answer compressed as asked.
    answer = httpx.post(url, content=gzip.compress(b"SELECT number FROM numbers(3) FORMAT JSONEachRow"),
                        headers={**auth, "Content-Encoding": "gzip", "Accept-Encoding": "gzip"})  # fmt: skip
    assert answer.status_code == 200 and answer.headers["Content-Encoding"] == "gzip"
    assert [json.loads(line)["number"] for line in answer.text.splitlines()] == [0, 1, 2]

    wrong = httpx.get(url, params={"query": "SELECT 1"}, auth=(clickhouse_server.user, "not-the-password"))
    assert wrong.status_code == 403 and wrong.headers["X-ClickHouse-Exception-Code"] == "516"
    assert wrong.text.startswith(f"Code: 516. DB::Exception: {clickhouse_server.user}: Authentication failed")
    assert "(AUTHENTICATION_FAILED)" in wrong.text
    assert httpx.get(url, params={"query": "SELECT 1"}).status_code == 403  # no credentials: user default

    syntax = httpx.post(url, content=b"SELEC 1", headers=auth)
    assert syntax.status_code == 400 and syntax.headers["X-ClickHouse-Exception-Code"] == "62"
    assert syntax.text.startswith("Code: 62. DB::Exception: Syntax error")
    missing = httpx.post(url, content=b"SELECT * FROM no_such_table", headers=auth)
    assert missing.status_code == 404 and missing.headers["X-ClickHouse-Exception-Code"] == "60"
    assert missing.text.startswith("Code: 60. DB::Exception: ") and "(UNKNOWN_TABLE)" in missing.text
    failing = httpx.post(url, content=b"SELECT throwIf(1, 'boom')", headers=auth)
    assert failing.status_code == 500 and "boom" in failing.text


def test_an_insert_the_table_refuses_is_an_error_and_keeps_nothing(raw) -> None:
    """As on a server: rows breaking a constraint fail the insert (code 469), so the store's refusal is seen."""
    raw.command("CREATE TABLE checked (v Int64, CONSTRAINT no_five CHECK v != 5) ENGINE = MergeTree ORDER BY v")
    raw.insert("checked", [[1], [2]], column_names=["v"])
    with pytest.raises(Exception, match=r"code: 469.*Constraint `no_five`"):
        raw.insert("checked", [[3], [5]], column_names=["v"])
    assert raw.query("SELECT groupArray(v) FROM checked").result_rows == [([1, 2],)]


def test_a_wrong_password_stops_the_collector_with_the_reason_and_never_the_password(
    clickhouse_server: ClickHouseHttpServer, database: str, tmp_path: Path
) -> None:
    secret = "wrong-password-7f3a9c"
    collector = CollectorProcess(
        data_dir=tmp_path / "data", extra_env={"CC_ANALYTICS_STORAGE_DSN": clickhouse_server.dsn(database, secret)}
    )
    with pytest.raises(RuntimeError, match="collector exited with 1"):
        collector.start(timeout_s=30)
    output = collector.log()
    assert "cc-analytics: cannot open the store: cannot connect to http://***@127.0.0.1:" in output
    assert "AUTHENTICATION_FAILED" in output
    assert "Traceback" not in output
    assert secret not in output


# --- migrations ------------------------------------------------------------------------------------------------------


def test_three_collectors_upgrading_at_once_migrate_once_and_leave_the_same_schema(
    clickhouse_server: ClickHouseHttpServer, dsn: str, database: str, raw
) -> None:
    """A store at migration 0002 holding facts is upgraded by three collectors starting at the same moment:
    every migration is applied once (0003's backfill of the daily rollups and 0005's of the monthly ones too, so
    the figures are exact, not tripled) and the schema is the one a single collector makes."""
    store = ClickHouseStore(ClickHouseConfig(dsn))
    store.connect()
    up_to_0002 = SchemaDdl(migrations=[m for m in load_migrations() if m.version <= 2])
    Migrator(lambda: contextlib.nullcontext(raw), up_to_0002, tablesettings.TablePolicy(400, False), {}).run()
    write_alices_edits(store, ns(date(2026, 3, 10)))
    store.close()

    stores = [ClickHouseStore(ClickHouseConfig(dsn)) for _ in range(3)]
    for each in stores:
        each.connect()  # its own clients
    barrier = threading.Barrier(3)
    applied: list[list[str]] = []
    failures: list[BaseException] = []

    def migrate(each: ClickHouseStore) -> None:
        try:
            barrier.wait()
            applied.append(each.migrate())
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=migrate, args=(each,)) for each in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for each in stores:
        each.close()
    assert not failures, failures
    assert sorted(applied) == [
        [], [], ["0003_daily_rollups.sql", "0004_shared_state_indexes.sql", "0005_monthly_and_team_rollups.sql",
                 "0006_session_hourly.sql", "0007_model_team_hourly.sql",
                 "0008_org_daily_all_teams.sql", "0009_session_days_and_day_summaries.sql", "0010_team_daily.sql",
                 "0011_drop_org_daily.sql", "0012_day_summary_ids.sql",
                 "0013_event_calls_5m.sql", "0014_api_latency_5m.sql"]
    ]  # fmt: skip

    versions = [row[0] for row in raw.query("SELECT version FROM schema_migrations ORDER BY version").result_rows]
    assert versions == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]
    claims = raw.query("SELECT attempt, countIf(kind = 'claim'), countIf(kind = 'released') "
                       "FROM schema_migrations_lock GROUP BY attempt ORDER BY attempt").result_rows  # fmt: skip
    assert claims == [(1, 1, 1)]  # one claim kept of however many were made, then released

    upgraded = create_store(ClickHouseConfig(dsn))
    try:
        report = readmodels.analytics(upgraded, date(2026, 3, 10), date(2026, 3, 10))
        march = readmodels.analytics(upgraded, date(2026, 3, 1), date(2026, 3, 31))  # the monthly rollups
        team = readmodels.team(upgraded, 2026, 3)
    finally:
        upgraded.close()
    march_totals = march["totals"]
    assert (march_totals["accepted_lines"], march_totals["accepts"], march_totals["active_users"]) == (16, 3, 1)
    assert [(m["member"], m["accepted_lines"]) for m in team["members"]] == [("alice@example.com", 16)]
    assert report["totals"]["accepted_lines"] == 16
    assert (report["totals"]["accepts"], report["totals"]["rejects"]) == (3, 1)
    assert report["acceptance_by_tool"] == {"Write": {"accepts": 3, "rejects": 1, "acceptance_rate": 0.75}}

    reference = clickhouse_server.new_database("reference")
    create_store(ClickHouseConfig(clickhouse_server.dsn(reference))).close()
    with clickhouse_server.client() as client:
        assert _schema(client, database) == _schema(client, reference)


def _lock_rows(raw) -> list[tuple]:
    return raw.query("SELECT attempt, holder, kind FROM schema_migrations_lock ORDER BY at, kind").result_rows


def test_a_collector_waits_for_a_live_migrator_and_takes_over_after_it(
    dsn: str, raw, caplog: pytest.LogCaptureFixture
) -> None:
    for statement in SchemaDdl().control():
        raw.command(statement)
    raw.command(
        "INSERT INTO schema_migrations_lock (attempt, token, holder, kind) VALUES (1, 'other', 'other-host:1', 'claim')"
    )
    caplog.set_level(logging.INFO, logger="cc_analytics.store")
    done: list[ClickHouseStore] = []
    starting = threading.Thread(target=lambda: done.append(create_store(ClickHouseConfig(dsn))))
    starting.start()
    deadline = time.monotonic() + 30
    while not any(r.getMessage() == "store.migrations_waiting" for r in caplog.records) and time.monotonic() < deadline:
        time.sleep(0.05)
    waiting = [r for r in caplog.records if r.getMessage() == "store.migrations_waiting"]
    assert waiting and waiting[0].fields["holder"] == "other-host:1"
    assert raw.command("SELECT count() FROM schema_migrations") == 0  # nothing applied while it is held

    raw.command(
        "INSERT INTO schema_migrations_lock (attempt, token, holder, kind) VALUES (1, 'other', 'other-host:1', 'released')"
    )
    starting.join(60)
    assert done, "the collector did not start after the lock was released"
    done[0].close()
    assert [row[0] for row in raw.query("SELECT version FROM schema_migrations ORDER BY version").result_rows] == [
        migration.version for migration in load_migrations()
    ]
    taken = [row for row in _lock_rows(raw) if row[2] == "claim"]
    assert [(row[0], row[1] == "other-host:1") for row in taken] == [(1, True), (2, False)]


def test_the_lock_of_a_migrator_that_died_expires(dsn: str, raw) -> None:
    for statement in SchemaDdl().control():
        raw.command(statement)
    # Claimed a minute ago and never beaten since: its holder is gone.
    raw.command("INSERT INTO schema_migrations_lock (attempt, token, holder, kind, at) "
                "VALUES (1, 'dead', 'dead-host:1', 'claim', now64(3) - INTERVAL 60 SECOND)")  # fmt: skip
    create_store(ClickHouseConfig(dsn)).close()
    assert [row[0] for row in raw.query("SELECT version FROM schema_migrations ORDER BY version").result_rows] == [
        migration.version for migration in load_migrations()
    ]
    # Attempt 2 took the expired lock and released it; a migration that ran past the heartbeat interval (a busy
    # machine) beat in between.
    kinds = [(attempt, kind) for attempt, _, kind in _lock_rows(raw) if kind != "heartbeat" or attempt != 2]
    assert kinds == [(1, "claim"), (2, "claim"), (2, "released")]


def test_a_database_of_one_layout_is_not_taken_for_the_other(dsn: str) -> None:
    create_store(ClickHouseConfig(dsn)).close()
    with pytest.raises(
        QueryFailed, match=r"table \w+ is a one-server table \(\w*MergeTree\), but storage.cluster is 'analytics'"
    ):
        create_store(ClickHouseConfig(dsn, cluster="analytics"))


def test_every_rendered_cluster_statement_parses_with_the_engines_parser(
    clickhouse_server: ClickHouseHttpServer,
) -> None:
    """The cluster cannot run here, but its DDL is parsed by ClickHouse's own parser (EXPLAIN AST)."""
    cluster = "analytics"
    statements = SchemaDdl(cluster).every_statement()
    policy = tablesettings.TablePolicy(400, True, cluster)
    alters = tablesettings.changes(
        {f"{t}_local": "MergeTree ORDER BY tuple()" for t in tablesettings.RAW_TABLES}, policy
    )
    assert len(alters) == 6
    engines: list[str] = []
    with clickhouse_server.client() as client:
        for statement in statements + alters:
            ast = client.command(f"EXPLAIN AST {statement}")
            text = ast if isinstance(ast, str) else "\n".join(ast)
            engines += [line.split()[1] for line in text.splitlines()
                        if line.strip().startswith("Function ") and line.split()[1].endswith(("MergeTree", "Distributed"))]  # fmt: skip
    assert engines.count("Distributed") == 24  # org_daily's among them, made by 0003 and dropped by 0011
    assert engines.count("ReplicatedMergeTree") == 4
    assert engines.count("ReplicatedAggregatingMergeTree") == 18
    assert engines.count("ReplicatedReplacingMergeTree") == 2
    assert not [engine for engine in engines if engine in ("MergeTree", "AggregatingMergeTree")]


# --- retention and fsync -------------------------------------------------------------------------------------------


def _ttl(raw, table: str) -> str:
    return tablesettings.current_ttl(
        raw.command(f"SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = '{table}'")
    )


def test_retention_is_a_ttl_on_the_raw_tables_only_and_follows_the_option(
    dsn: str, raw, started, tmp_path: Path
) -> None:
    create_store(ClickHouseConfig(dsn)).close()  # the default: 400 days
    assert [_ttl(raw, t) for t in ("metric_points", "events")] == ["toDateTime(time) + toIntervalDay(400)"] * 2
    assert "TTL toDateTime(time) + toIntervalDay(400)" in raw.command("SHOW CREATE TABLE metric_points")
    for rollup in ("member_hourly", "tool_decisions_hourly", "model_usage_hourly", "team_daily", "member_daily",
                   "tool_decisions_daily"):  # fmt: skip
        assert "TTL" not in raw.command(f"SHOW CREATE TABLE {rollup}"), rollup

    # The collector's option, on its next start.
    collector = CollectorProcess(data_dir=tmp_path / "data", extra_env={
        "CC_ANALYTICS_STORAGE_DSN": dsn, "CC_ANALYTICS_STORAGE_RETENTION_DAYS": "90"})  # fmt: skip
    started.append(collector.start())
    assert [_ttl(raw, t) for t in ("metric_points", "events")] == ["toDateTime(time) + toIntervalDay(90)"] * 2
    assert '"event": "store.table_settings_changed"' in collector.log()
    collector.stop()

    create_store(ClickHouseConfig(dsn, retention_days=0)).close()  # keep forever
    assert [_ttl(raw, t) for t in ("metric_points", "events")] == ["", ""]


def test_raw_rows_past_retention_are_dropped_while_the_views_keep_their_history(dsn: str, raw) -> None:
    store = create_store(ClickHouseConfig(dsn, retention_days=2))
    try:
        today = datetime.now(UTC).date()
        old = today - timedelta(days=10)
        write(store, metric(LINES, 5, ns(old), ALICE, type="added"))
        write(store, metric(LINES, 7, ns(today, 0), ALICE, type="added"))
        raw.command("OPTIMIZE TABLE metric_points FINAL")  # applies the TTL now rather than at a later merge
        assert raw.command("SELECT sum(value) FROM metric_points") == 7.0
        report = readmodels.analytics(store, old, today)
        assert report["totals"]["accepted_lines"] == 12
        assert report["days"][0] == {**report["days"][0], "date": old.isoformat(), "accepted_lines": 5}
    finally:
        store.close()


def test_the_raw_tables_merge_column_by_column_and_keep_every_row(dsn: str, raw) -> None:
    """tablesettings.py: a merge of the raw tables is Vertical from the first row, where ClickHouse would read
    every column of every part at once below 131 072 rows; the rollups keep ClickHouse's choice."""
    store = create_store(ClickHouseConfig(dsn))
    try:
        engines = dict(
            raw.query("SELECT name, engine_full FROM system.tables WHERE database = currentDatabase()").result_rows
        )
        merge_rows = {
            table: tablesettings.setting_value(engines[table], tablesettings.VERTICAL_MERGE_SETTING)
            for table in ("metric_points", "events", "member_hourly", "team_daily")
        }
        assert merge_rows == {"metric_points": 1, "events": 1, "member_hourly": None, "team_daily": None}
        today = datetime.now(UTC).date()
        for lines in (10, 5, 1):  # an insert each: three parts
            write(store, metric(LINES, lines, ns(today, 0), ALICE, type="added"))
        raw.command("OPTIMIZE TABLE metric_points FINAL")
        parts = (
            "SELECT count() FROM system.parts WHERE database = currentDatabase() AND table = 'metric_points' AND active"
        )
        assert raw.command(parts) == 1
        assert raw.command("SELECT sum(value) FROM metric_points") == 16.0
        assert readmodels.analytics(store, today, today)["totals"]["accepted_lines"] == 16
    finally:
        store.close()


@pytest.mark.parametrize("path", ["embedded", "server"])
def test_fsync_is_a_table_setting_and_ingest_works_with_it(path: str, dsn: str, raw, started, tmp_path: Path) -> None:
    """storage.fsync=true: every insert is kept (ClickHouse has no such insert setting: it is each table's)."""
    environment = {"CC_ANALYTICS_STORAGE_FSYNC": "true"}
    if path == "server":
        environment["CC_ANALYTICS_STORAGE_DSN"] = dsn
    collector = CollectorProcess(data_dir=tmp_path / "data", extra_env=environment)
    started.append(collector.start())
    otlp.send(collector, "http/json", otlp.edit_request(ORG, lines=7, cost=0.5))
    assert otlp.figures(collector, ORG) == otlp.edit_figures(7, 0.5)
    assert collector.stop() == 0
    if path == "server":
        definitions = _schema(raw, raw.command("SELECT currentDatabase()"))
    else:
        from chdb import state

        connection = state.connect(str(tmp_path / "data" / "chdb"))
        try:
            names = connection.query(
                "SELECT name FROM system.tables WHERE database = currentDatabase()", "TabSeparated"
            )
            definitions = {name: connection.query(f"SHOW CREATE TABLE {name}", "TabSeparated").bytes().decode()
                           for name in names.bytes().decode().split()}  # fmt: skip
        finally:
            connection.close()
    tables = {name: text for name, text in definitions.items() if "MergeTree" in text}
    assert len(tables) == 23
    assert all("fsync_after_insert = 1, fsync_part_directory = 1" in text for text in tables.values())


# --- the client pool -------------------------------------------------------------------------------------------------


def test_reads_and_health_checks_do_not_wait_for_a_busy_client(dsn: str, raw) -> None:
    """A long statement holds one of the store's clients: the API's reads take another, and the health check
    has its own, so neither waits for it."""
    store = create_store(ClickHouseConfig(dsn, pool_size=2))

    def running() -> bool:
        # The server runs the statement only while the store's client that sent it is lent out.
        return bool(raw.command("SELECT count() FROM system.processes WHERE query LIKE 'SELECT sleep(3)%'"))

    try:
        busy = threading.Thread(target=store.execute, args=("SELECT sleep(3)",))
        busy.start()
        started = False
        for _ in range(100):
            started = running()
            if started:
                break
            time.sleep(0.1)
        assert started, "the long statement never reached the server"
        report = readmodels.analytics(store, date(2026, 3, 10), date(2026, 3, 10))
        assert report["totals"]["accepted_lines"] == 0
        assert busy.is_alive(), "the read waited for the busy client"
        assert store.ping() is True
        assert busy.is_alive(), "the health check waited for the busy client"
        busy.join(10)
    finally:
        store.close()


# --- outages -------------------------------------------------------------------------------------------------------


def test_a_server_outage_refuses_with_a_retry_hint_and_loses_and_doubles_nothing(tmp_path: Path, started) -> None:
    server = ClickHouseHttpServer(data_dir=tmp_path / "clickhouse").start()
    try:
        collector = CollectorProcess(data_dir=tmp_path / "data",
                                     extra_env={"CC_ANALYTICS_STORAGE_DSN": server.dsn("outage")})  # fmt: skip
        started.append(collector.start())
        first = otlp.to_json(otlp.edit_request(ORG, lines=3, cost=0.25, name="alice"))
        assert otlp.post(collector, "metrics", first, otlp.CONTENT_TYPES["json"]).status_code == 200

        server.kill()
        second = otlp.to_json(otlp.edit_request(ORG, lines=4, cost=0.5, name="bob"))
        refused = otlp.post(collector, "metrics", second, otlp.CONTENT_TYPES["json"])
        assert refused.status_code == 503 and "retry-after" in refused.headers
        assert httpx.get(f"{collector.api_url}/readyz", timeout=10).status_code == 503

        server = ClickHouseHttpServer(data_dir=server.data_dir, port=server.port).start()
        # The client retries the refused request (same bytes) until it is taken, and the first one once more.
        deadline = time.monotonic() + 30
        while otlp.post(collector, "metrics", second, otlp.CONTENT_TYPES["json"]).status_code != 200:
            assert time.monotonic() < deadline, collector.log()[-3000:]
            time.sleep(0.2)
        assert otlp.post(collector, "metrics", first, otlp.CONTENT_TYPES["json"]).status_code == 200
        assert httpx.get(f"{collector.api_url}/readyz", timeout=10).status_code == 200
        assert otlp.figures(collector, ORG) == otlp.edit_figures(7, 0.75, accepts=2, users=2, sessions=1)
    finally:
        server.kill()
