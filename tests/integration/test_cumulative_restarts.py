"""Cumulative series across restarts (issue 2): a series resumes after SIGTERM and kill -9, a reset after a
restart counts the new value in full, a late older point adds nothing, and SIGTERM keeps everything. All against
the real collector process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import otlp_raw as otlp
from tests.support.running import restart, start_on

ORG = "org-restarts"


# --- cumulative series across restarts --------------------------------------------------------------------------


@pytest.mark.parametrize(("protocol", "how"), [("http/json", "sigterm"), ("grpc", "sigkill"),
                                               ("http/protobuf", "sigkill")])  # fmt: skip
def test_cumulative_series_continues_across_restart(started, data_dir: Path, how: str, protocol: str) -> None:
    collector = start_on(started, data_dir)
    start = otlp.now_ns() - 60_000_000_000
    t1 = otlp.now_ns()
    otlp.send(collector, protocol, otlp.cumulative_lines_request(ORG, 10, t1, start))
    assert otlp.figures(collector, ORG)["accepted_lines"] == 10

    collector = restart(started, data_dir, how)
    otlp.send(collector, protocol, otlp.cumulative_lines_request(ORG, 25, t1 + 1_000_000, start))
    assert otlp.figures(collector, ORG)["accepted_lines"] == 25  # not 35 (state lost) nor 15 (first point lost)

    # Another restart, another increment.
    collector = restart(started, data_dir, how)
    otlp.send(collector, protocol, otlp.cumulative_lines_request(ORG, 26, t1 + 2_000_000, start))
    assert otlp.figures(collector, ORG)["accepted_lines"] == 26


@pytest.mark.parametrize("reset", ["value_drop", "new_start_time"])
def test_reset_after_restart_counts_the_new_value_in_full(started, data_dir: Path, reset: str) -> None:
    collector = start_on(started, data_dir)
    start = otlp.now_ns() - 60_000_000_000
    t1 = otlp.now_ns()
    otlp.send(collector, "http/json", otlp.cumulative_lines_request(ORG, 10, t1, start))

    collector = restart(started, data_dir, "sigkill")
    if reset == "value_drop":  # the sender restarted (same start time reported): 4 is all new
        otlp.send(collector, "http/json", otlp.cumulative_lines_request(ORG, 4, t1 + 1_000_000, start))
        expected = 14
    else:  # a new start time: 12 is all new (not 12 - 10)
        otlp.send(collector, "http/json",
                  otlp.cumulative_lines_request(ORG, 12, t1 + 1_000_000, start + 30_000_000_000))  # fmt: skip
        expected = 22
    assert otlp.figures(collector, ORG)["accepted_lines"] == expected

    # The new series then continues from the reset value, across one more restart.
    collector = restart(started, data_dir, "sigterm")
    last = 4 if reset == "value_drop" else 12
    new_start = start if reset == "value_drop" else start + 30_000_000_000
    otlp.send(collector, "http/json", otlp.cumulative_lines_request(ORG, last + 3, t1 + 2_000_000, new_start))
    assert otlp.figures(collector, ORG)["accepted_lines"] == expected + 3


def test_out_of_order_cumulative_point_adds_nothing(started, data_dir: Path) -> None:
    collector = start_on(started, data_dir)
    start = otlp.now_ns() - 60_000_000_000
    t1 = otlp.now_ns()
    t2, t3 = t1 + 1_000_000, t1 + 2_000_000
    otlp.send(collector, "http/json", otlp.cumulative_lines_request(ORG, 10, t1, start))
    otlp.send(collector, "http/json", otlp.cumulative_lines_request(ORG, 25, t3, start))
    assert otlp.figures(collector, ORG)["accepted_lines"] == 25

    # An older point arriving late (lower, as it would be, or equal time): nothing, before and after a restart.
    otlp.send(collector, "http/json", otlp.cumulative_lines_request(ORG, 18, t2, start))
    otlp.send(collector, "http/protobuf", otlp.cumulative_lines_request(ORG, 24, t3, start))
    assert otlp.figures(collector, ORG)["accepted_lines"] == 25
    collector = restart(started, data_dir, "sigkill")
    otlp.send(collector, "grpc", otlp.cumulative_lines_request(ORG, 19, t2 + 1, start))
    assert otlp.figures(collector, ORG)["accepted_lines"] == 25

    otlp.send(collector, "http/json", otlp.cumulative_lines_request(ORG, 30, t3 + 1_000_000, start))
    assert otlp.figures(collector, ORG)["accepted_lines"] == 30


# --- clean shutdown ------------------------------------------------------------------------------------------------


def test_sigterm_exits_zero_logs_stopped_and_keeps_everything(started, data_dir: Path) -> None:
    collector = start_on(started, data_dir)
    otlp.send(collector, "http/protobuf", otlp.edit_request(ORG, lines=8, cost=0.25))
    otlp.send(collector, "http/json", otlp.logs_request(ORG, ["user_prompt"], name="eve", session="e1"), "logs")
    expected = otlp.edit_figures(8, 0.25, users=2, sessions=2)
    assert otlp.figures(collector, ORG) == expected

    assert collector.stop() == 0
    lines = [json.loads(line) for line in collector.log().splitlines() if line.startswith("{")]
    stopped = [line for line in lines if line.get("event") == "collector.stopped"]
    assert len(stopped) == 1, collector.log()
    assert stopped[0]["level"] == "info"
    assert [line["event"] for line in lines].index("collector.stopping") < lines.index(stopped[0])

    collector = start_on(started, data_dir)
    assert otlp.figures(collector, ORG) == expected
