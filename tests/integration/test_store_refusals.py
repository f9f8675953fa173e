"""A request the store refuses while it answers gets a permanent answer once, and the requests around it go
through: against the real collector on its embedded store (chDB), whose metric_points table is given a real
CHECK constraint that one known request violates.

The refused request is answered 400 / INVALID_ARGUMENT with the store's reason and no retry hint (sent again,
the same answer, never 503 / UNAVAILABLE); the requests sent with it, at the same time, are acknowledged and
counted exactly; its facts are in the dead-letter file (once, privacy-filtered); the self-metrics count it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.rpc import status_pb2

from pdata.vocabulary import DEAD_LETTER_BATCHES, OTLP_REQUESTS
from tests.support import otlp_raw as otlp
from tests.support.children import eventually
from tests.support.collector import CollectorProcess

ORG = "org-store-refusals"
POISON = 4242  # added lines the constraint refuses
SECRET = "a prompt nobody may read"


@pytest.fixture(params=["memory", "wal"])
def collector(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[CollectorProcess]:
    """A collector on its embedded store, whose metric_points table refuses a point of POISON added lines; with
    queue.mode memory (the refusal is the answer) and wal (the request was acknowledged once on disk: the
    refusal is found when the queue is drained).

    The constraint is added between two runs: the embedded engine belongs to the collector while it runs.
    """
    env = {"CC_ANALYTICS_QUEUE_MODE": request.param}
    process = CollectorProcess(data_dir=tmp_path / "data", extra_env=env).start()  # creates the schema
    assert process.stop() == 0
    statement = f"ALTER TABLE metric_points ADD CONSTRAINT no_poison CHECK value != {POISON}"
    subprocess.run([sys.executable, "-c", _ALTER, str(process.data_dir / "chdb"), statement], check=True, timeout=120)
    process.start()
    try:
        yield process
    finally:
        process.kill()


_ALTER = """
import sys
import clickhouse_connect
client = clickhouse_connect.get_client(dsn="chdb://" + sys.argv[1])
client.command(sys.argv[2])
client.close()
"""


def _poisoned(session: str) -> dict[str, Any]:
    """An edit request whose added-lines point the store refuses; the point also carries a prompt (content)."""
    document = otlp.edit_request(ORG, lines=POISON, session=session)
    lines = document["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][2]
    lines["sum"]["dataPoints"][0]["attributes"].append({"key": "prompt", "value": {"stringValue": SECRET}})
    return document


def _http(collector: CollectorProcess, document: dict[str, Any]) -> httpx.Response:
    return otlp.post(collector, "metrics", otlp.to_protobuf(document))


def _grpc(collector: CollectorProcess, document: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(code, details, trailers) of the call; ("OK", "", {}) when accepted."""
    try:
        otlp.grpc_export(collector, "metrics", otlp.to_protobuf(document))
    except grpc.RpcError as exc:
        return exc.code().name, exc.details() or "", dict(exc.trailing_metadata() or ())
    return "OK", "", {}


def _requests_total(collector: CollectorProcess, protocol: str, status: str) -> float:
    return collector.metric_sum(OTLP_REQUESTS.sample, protocol=protocol, signal="metrics", status=status)


def _counts(collector: CollectorProcess) -> list[float]:
    """Dead letters written, HTTP requests answered as duplicates and as refused by the store."""
    return [_dead_letters_written(collector), *(_requests_total(collector, "http", status)
                                                for status in ("duplicate", "refused_by_store"))]  # fmt: skip


def _dead_letters_written(collector: CollectorProcess) -> float:
    return collector.metric_sum(DEAD_LETTER_BATCHES.sample, outcome="written")


def test_a_batch_the_store_refuses_gets_a_permanent_answer_once_and_the_others_go_through(
    collector: CollectorProcess,
) -> None:
    # Sent at the same time, so the writer takes them as one group when it can: the group's insert fails, and
    # each request is written on its own.
    http_poison, grpc_poison = _poisoned("hp"), _poisoned("gp")
    with ThreadPoolExecutor(max_workers=6) as pool:
        http_before = pool.submit(_http, collector, otlp.edit_request(ORG, lines=3, session="h1"))
        http_poisoned = pool.submit(_http, collector, http_poison)
        http_after = pool.submit(_http, collector, otlp.edit_request(ORG, lines=5, session="h2"))
        grpc_before = pool.submit(_grpc, collector, otlp.edit_request(ORG, lines=7, session="g1"))
        grpc_poisoned = pool.submit(_grpc, collector, grpc_poison)
        grpc_after = pool.submit(_grpc, collector, otlp.edit_request(ORG, lines=11, session="g2"))
    assert [http_before.result().status_code, http_after.result().status_code] == [200, 200]
    assert [grpc_before.result()[0], grpc_after.result()[0]] == ["OK", "OK"]
    durable = collector.extra_env["CC_ANALYTICS_QUEUE_MODE"] == "wal"
    if durable:
        # Acknowledged once on disk, before the store saw it: the refusal comes at the drain, and the bytes sent
        # again are recognised as that request (answered ok, counted as a duplicate), not queued a second time:
        # at once (its record may still be queued), and once the drain has set both aside and left the queue.
        assert (http_poisoned.result().status_code, grpc_poisoned.result()[0]) == (200, "OK")
        assert _http(collector, http_poison).status_code == 200
        collector.drained()
        assert _dead_letters_written(collector) == 2
        assert _http(collector, http_poison).status_code == 200
        assert _grpc(collector, grpc_poison)[0] == "OK"
    else:
        _assert_permanent_answers(collector, http_poisoned.result(), grpc_poisoned.result(), http_poison, grpc_poison)
    # And the next requests go through.
    otlp.send(collector, "http/protobuf", otlp.edit_request(ORG, lines=13, session="h3"))
    otlp.send(collector, "grpc", otlp.edit_request(ORG, lines=17, session="g3"))

    # Exactly the acknowledged requests are counted: six, none of the refused one.
    assert otlp.figures(collector, ORG) == otlp.edit_figures(3 + 5 + 7 + 11 + 13 + 17, accepts=6, sessions=6)

    # The dead-letter file holds each refused request once (not its retry), with the facts it would have stored.
    lines = (collector.data_dir / "dead-letter.jsonl").read_text().splitlines()
    assert len(lines) == 2
    records = [json.loads(line) for line in lines]
    for record in records:
        assert record["signal"] == "metrics"
        assert "VIOLATED_CONSTRAINT" in record["reason"] and "no_poison" in record["reason"]
        assert re.fullmatch(r"[0-9a-f]{32}", record["request_digest"])
        facts = sorted((point["metric"], point["delta"], point["fact"]) for point in record["points"])
        assert facts == sorted([(otlp.DECISION, 1, "edit_accept"), (otlp.SESSION, 1, "session_start"),
                                (otlp.LINES, POISON, "lines_added")])  # fmt: skip
        assert {point["member"]["member"] for point in record["points"]} == {f"dev@{ORG}.example"}
        lines_point = next(point for point in record["points"] if point["metric"] == otlp.LINES)
        # Privacy-filtered as the store would have kept it: the prompt is reduced to its length.
        assert lines_point["attributes"]["prompt_length"] == str(len(SECRET))
        assert "prompt" not in lines_point["attributes"]
    assert {record["points"][0]["attributes"]["session.id"] for record in records} == {f"{ORG}-hp", f"{ORG}-gp"}
    assert SECRET not in "\n".join(lines)

    # The self-metrics: two batches set aside; in memory mode two refusals per protocol (the request and its
    # retry), in wal mode none (both were acknowledged) and each retry a duplicate.
    refusals = 0 if durable else 2
    assert _requests_total(collector, "http", "refused_by_store") == refusals
    assert _requests_total(collector, "grpc", "refused_by_store") == refusals
    assert _requests_total(collector, "http", "unavailable") == 0
    assert _requests_total(collector, "grpc", "unavailable") == 0
    assert _dead_letters_written(collector) == 2
    if durable:
        assert _requests_total(collector, "http", "duplicate") == 2
        assert _requests_total(collector, "grpc", "duplicate") == 1


def _assert_permanent_answers(
    collector: CollectorProcess,
    refused: httpx.Response,
    grpc_refused: tuple[str, str, dict[str, Any]],
    http_poison: dict[str, Any],
    grpc_poison: dict[str, Any],
) -> None:
    """Memory mode: the refusal is the answer."""
    # HTTP: 400 with a google.rpc.Status INVALID_ARGUMENT carrying the store's reason, and no retry hint.
    assert refused.status_code == 400, refused.content
    assert "retry-after" not in refused.headers
    status = status_pb2.Status.FromString(refused.content)
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0] and not status.details
    assert "VIOLATED_CONSTRAINT" in status.message and "no_poison" in status.message
    # gRPC: INVALID_ARGUMENT with the same reason, no retry-after or RetryInfo.
    code, details, trailers = grpc_refused
    assert code == "INVALID_ARGUMENT" and "VIOLATED_CONSTRAINT" in details and "no_poison" in details
    assert not {"retry-after", "grpc-status-details-bin", "google.rpc.retryinfo-bin"} & set(trailers)

    # Sent again, the same bytes (a sender that retries anyway): the same permanent answer, not 503 / UNAVAILABLE.
    again = _http(collector, http_poison)
    assert (again.status_code, "retry-after" in again.headers) == (400, False)
    assert _grpc(collector, grpc_poison)[0] == "INVALID_ARGUMENT"


def test_a_refused_request_sent_again_after_a_restart_gets_the_same_answer_and_is_set_aside_once(
    collector: CollectorProcess,
) -> None:
    """The dead-letter file is read at start-up: a request it holds, sent again to the restarted collector, is
    not written there a second time; with the durable queue it is answered as a duplicate of the request
    acknowledged before the restart (not queued to be refused again), in memory mode refused again."""
    durable = collector.extra_env["CC_ANALYTICS_QUEUE_MODE"] == "wal"
    poison = _poisoned("rp")
    assert _http(collector, poison).status_code == (200 if durable else 400)
    collector.drained()
    assert _dead_letters_written(collector) == 1
    before = _counts(collector)
    assert collector.stop() == 0
    log_before = len(collector.log())

    collector.start()
    again = _http(collector, poison)
    assert again.status_code == (200 if durable else 400), again.content
    otlp.send(collector, "http/protobuf", otlp.edit_request(ORG, lines=19, session="r1"))
    assert otlp.figures(collector, ORG) == otlp.edit_figures(19, accepts=1, sessions=1)
    assert len((collector.data_dir / "dead-letter.jsonl").read_text().splitlines()) == 1
    # The self-metrics' counters go on across the restart (as Prometheus reads them): what this run added.
    added = [now - then for now, then in zip(_counts(collector), before, strict=True)]
    assert added == ([0, 1, 0] if durable else [0, 0, 1])
    # The store was asked to take it again only in memory mode, where the sender is told so each time.
    assert ("store.write_refused" in collector.log()[log_before:]) == (not durable)


def test_a_view_refusing_what_its_table_took_holds_the_insert_until_mended_even_across_a_restart(
    tmp_path: Path,
) -> None:
    """With the durable queue (each request acknowledged once appended): a materialized view that refuses one
    request's value, after metric_points took the group it came in, holds that insert; the collector is killed,
    the operator drops the view and starts it again: the insert is completed from the store's journal, and every
    acknowledged request counts once (or, if the engine kept none of it, the refused one is in the dead-letter
    file and the others count once)."""
    process = CollectorProcess(data_dir=tmp_path / "data", extra_env={"CC_ANALYTICS_QUEUE_MODE": "wal"}).start()
    assert process.stop() == 0
    chdb = str(process.data_dir / "chdb")
    for statement in (
        "CREATE TABLE poison_sink (value Float64) ENGINE = Null",
        "CREATE MATERIALIZED VIEW poison_guard TO poison_sink AS "
        f"SELECT throwIf(value = {POISON}, 'the view refuses {POISON}') + value AS value FROM metric_points",
    ):
        subprocess.run([sys.executable, "-c", _ALTER, chdb, statement], check=True, timeout=120)
    process.start()
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            sent = [
                pool.submit(_http, process, otlp.edit_request(ORG, lines=lines, session=session))
                for lines, session in ((3, "v1"), (POISON, "vp"), (5, "v2"))
            ]
        assert [answer.result().status_code for answer in sent] == [200, 200, 200]
        dead_letters = process.data_dir / "dead-letter.jsonl"
        deadline = time.monotonic() + 60
        while "store.kept_insert_held" not in process.log() and not dead_letters.exists():
            assert time.monotonic() < deadline, process.log()[-3000:]
            time.sleep(0.1)
        process.kill()
        subprocess.run([sys.executable, "-c", _ALTER, chdb, "DROP VIEW poison_guard"], check=True, timeout=120)
        set_aside = len(dead_letters.read_text().splitlines()) if dead_letters.exists() else 0

        process.start()
        counted = (3 + 5, 2) if set_aside else (3 + 5 + POISON, 3)
        expected = otlp.edit_figures(counted[0], accepts=counted[1], sessions=counted[1])
        assert eventually(lambda: otlp.figures(process, ORG), expected, 60, every_s=0.5) == expected
        assert process.stop() == 0
        # Every table, the raw one too, holds each counted request's lines once.
        read = subprocess.run([sys.executable, "-c", _LINES_BY_TABLE, chdb, *_LINES_TABLES], check=True, timeout=120,
                              capture_output=True, text=True)  # fmt: skip
        assert json.loads(read.stdout) == dict.fromkeys(_LINES_TABLES, counted[0])
    finally:
        process.kill()


_LINES_TABLES = ("metric_points", "member_hourly", "team_daily", "member_daily", "member_monthly")
_LINES_BY_TABLE = """
import json, sys
import clickhouse_connect
client = clickhouse_connect.get_client(dsn="chdb://" + sys.argv[1])
totals = {"metric_points": "sumIf(value, fact = 'lines_added')"}
print(json.dumps({table: float(client.command("SELECT " + totals.get(table, "sum(accepted_lines)") + " FROM " + table))
                  for table in sys.argv[2:]}))
client.close()
"""
