"""grpcio's own CPU per call (bench/grpc_floor.py): a bare server answers every call of the open-loop sender, and
the table sets it beside the collector's CPU per gRPC request. Not timed; the figures belong to `make bench`."""

from __future__ import annotations

from bench.grpc_floor import grpc_floor
from bench.report import floor_figure
from tests.support.children import free_port

FLOOR = {"calls": 8_000, "rate": 800.0, "channels": 200, "cpu_per_call_us": 450.0}


def test_the_bare_server_answers_every_call_at_the_sender_s_rate_and_its_cpu_is_counted() -> None:
    floor = grpc_floor(free_port(), calls=400, rate=400.0, channels=20)
    assert (floor["calls"], floor["rate"], floor["channels"]) == (400, 400.0, 20)
    # Open loop at 400/s: the last call starts at 0.9975 s, so the calls take a second or a little more.
    assert 0.99 <= floor["seconds"] < 10
    assert floor["server_cpu_s"] > 0
    assert floor["cpu_per_call_us"] == floor["server_cpu_s"] / 400 * 1e6


def test_the_table_gives_the_floor_as_a_share_of_the_collector_s_cpu_per_request_at_its_held_step() -> None:
    assert floor_figure(FLOOR, None) == "450 µs per call (8,000 calls at 800/s over 200 channels)"
    held = {"developers": 7_500, "requests_per_s": 750.0, "collector_cores": 1.5}  # 2 000 µs per request
    assert floor_figure(FLOOR, {"protocol": "grpc", "held_step": held}) == (
        "450 µs per call (8,000 calls at 800/s over 200 channels) = 22% of the collector's CPU per gRPC request "
        "at 7,500 developers (2,000 µs: receivers, queue and store)"
    )
    assert floor_figure(FLOOR, {"protocol": "grpc", "held_step": None}) == floor_figure(FLOOR, None)
