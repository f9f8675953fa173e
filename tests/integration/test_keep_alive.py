"""An OTLP/HTTP exporter keeps its connection between exports, as Claude Code's does (logs every 5 s while a
session is active, metrics every 60 s). With the collector's default limits, an idle connection stays open
longer than those intervals, so the next export on it is answered instead of being sent just as the collector
closes the connection (a reset: the export fails on the sender's side)."""

from __future__ import annotations

import socket
import time

from tests.support import otlp_raw as otlp
from tests.support.collector import CollectorProcess


def test_an_export_on_a_connection_idle_longer_than_claude_codes_log_interval_is_answered(
    collector: CollectorProcess, org: str
) -> None:
    with socket.create_connection(("127.0.0.1", collector.http_port)) as kept:
        first = otlp.exchange(kept, otlp.to_protobuf(otlp.edit_request(org, lines=10, session="s1")))
        time.sleep(6)  # Claude Code's log export interval (5 s), and a little more
        second = otlp.exchange(kept, otlp.to_protobuf(otlp.edit_request(org, lines=5, session="s1")))
    for answer in (first, second):
        assert otlp.kept_alive_ok(answer), answer[:300]
    assert otlp.figures(collector, org)["accepted_lines"] == 15
