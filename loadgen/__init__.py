"""A realistic Claude Code telemetry load: N simulated developers sending OTLP to a collector.

`workload` builds the requests (each carrying the figures it contributes, a `Tally`), `senders` sends one over
OTLP/gRPC or OTLP/HTTP, `runner` sends a stream of them at a rate and tallies the acknowledged ones, `cli` is
the command line. The tallies of acknowledged requests add up to what the collector's read API must report,
which is what tests/bench/test_loadgen.py checks.

    cc-analytics loadgen --url http://127.0.0.1:4317 --developers 5000 --duration 60s
    cc-analytics-loadgen --protocol http/json --url http://127.0.0.1:4318 --shape gateway --rate max
"""

from loadgen.connections import sender_for
from loadgen.runner import RunResult, run
from loadgen.senders import Answer, GrpcSender, HttpSender
from loadgen.tally import Tally
from loadgen.workload import PROTOCOLS, SHAPES, Request, Workload

__all__ = [
    "PROTOCOLS",
    "SHAPES",
    "Answer",
    "GrpcSender",
    "HttpSender",
    "Request",
    "RunResult",
    "Tally",
    "Workload",
    "run",
    "sender_for",
]
