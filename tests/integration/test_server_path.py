"""The figures suite on the ClickHouse server path: how a run puts every store on the server.

`CC_ANALYTICS_TEST_STORE=server` (`make test-server`, which `make test` runs after the main suite) runs every test
of the figures suite (tests/conftest.py, FIGURES_SUITE: the workload, views, retries and restarts, fixture
replay, Prometheus, tenancy, poisoned values, privacy, the console and the dashboards' panel queries) unchanged,
with every store a database of the test ClickHouse server (tests/support/clickhouse_http.py, embedded_stores_on):
one database per data directory, so a collector restarted on its directory finds its store again. This test
holds that redirection to what such a run relies on, so a pass there is a pass on `storage.dsn=http://…`.
"""

from __future__ import annotations

from pathlib import Path

import clickhouse_connect

from exporters.clickhouse import ClickHouseConfig, create_store
from tests.support import otlp_raw as otlp
from tests.support.clickhouse_http import ClickHouseHttpServer, embedded_store_database, embedded_stores_on
from tests.support.collector import CollectorProcess

ORG = "org-server-path"


def test_every_store_of_a_data_directory_is_one_database_of_the_server(
    clickhouse_server: ClickHouseHttpServer, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    database = embedded_store_database(data_dir / "chdb")
    with embedded_stores_on(clickhouse_server):
        collector = CollectorProcess(data_dir=data_dir).start()
        try:
            otlp.send(collector, "http/protobuf", otlp.edit_request(ORG, lines=7, cost=0.5))
            assert collector.environment()["CC_ANALYTICS_STORAGE_DSN"] == clickhouse_server.dsn(database)
            assert '"dsn": "http://***@127.0.0.1:' in collector.log() and database in collector.log()
        finally:
            assert collector.stop() == 0

        # Restarted on its data directory, a collector finds what it stored, and adds to it.
        restarted = CollectorProcess(data_dir=data_dir).start()
        try:
            assert otlp.figures(restarted, ORG)["accepted_lines"] == 7
            otlp.send(restarted, "grpc", otlp.edit_request(ORG, lines=3))
            assert otlp.figures(restarted, ORG)["accepted_lines"] == 10
        finally:
            assert restarted.stop() == 0

        # This process's stores and clients of chdb://<data_dir>/chdb are that database, on the server path.
        store = create_store(ClickHouseConfig(dsn=f"chdb://{data_dir / 'chdb'}"))
        try:
            assert (store.embedded, store.database) == (False, database)
        finally:
            store.close()
        client = clickhouse_connect.get_client(dsn=f"chdb://{data_dir / 'chdb'}")
        try:
            lines = client.query(
                "SELECT currentDatabase(), sum(value) FROM metric_points WHERE metric = {metric:String}",
                parameters={"metric": otlp.LINES},
            ).result_rows
        finally:
            client.close()
        assert lines == [(database, 10.0)]

        # A fresh data directory is a fresh database.
        other = CollectorProcess(data_dir=tmp_path / "other").start()
        try:
            assert otlp.figures(other, ORG)["accepted_lines"] == 0
        finally:
            other.kill()

    assert not (data_dir / "chdb").exists()  # nothing was stored on disk
    assert CollectorProcess(data_dir=data_dir).environment().get("CC_ANALYTICS_STORAGE_DSN") is None  # undone
