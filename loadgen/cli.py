"""`cc-analytics loadgen` (also `cc-analytics-loadgen`, `python -m loadgen`): the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any, TextIO

from loadgen.direct import run_direct
from loadgen.runner import run
from loadgen.templates import Population
from loadgen.workload import PROTOCOLS, SHAPES, Workload

CONNECTIONS = ("shared", "per-developer")


def parse_duration(text: str) -> float:
    text = text.strip().lower()
    for suffix, factor in (("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)):
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "", 1).isdigit():
            return float(text[: -len(suffix)]) * factor
    return float(text)


def _headers(values: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for value in values:
        for part in value.split(","):
            if "=" in part:
                key, _, item = part.partition("=")
                headers[key.strip()] = item.strip()
    return headers


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cc-analytics loadgen",
        description="Replay realistic Claude Code telemetry (N simulated developers) against an OTLP endpoint.",
    )
    parser.add_argument("--url", help="OTLP endpoint (default http://127.0.0.1:4317 for grpc, :4318 for http/*)")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="grpc")
    parser.add_argument("--shape", choices=SHAPES, default="client",
                        help="client: each developer's own requests; gateway: batched as a collector in front would")  # fmt: skip
    parser.add_argument("--developers", type=int, default=100)
    parser.add_argument("--duration", default="60s", help="how long to send, e.g. 60s, 5m (default 60s)")
    parser.add_argument("--rate", default="realtime",
                        help="realtime (default export intervals: 60 s metrics, 5 s logs), max (as fast as accepted) "
                             "or requests per second")  # fmt: skip
    parser.add_argument("--concurrency", type=int, default=128, help="requests in flight at most")
    parser.add_argument("--connections", choices=CONNECTIONS, default="shared",
                        help="shared: a pool of connections for every developer (one HTTP/2 connection for gRPC, "
                             "--concurrency for HTTP); per-developer (with --rate realtime and --shape client): each "
                             "developer on a connection of its own, as Claude Code clients connect, every developer's "
                             "first minute of exports sent again each minute with fresh timestamps")  # fmt: skip
    parser.add_argument("--gateway-batch", type=int, default=50, help="client exports per gateway request")
    parser.add_argument("--header", action="append", default=[],
                        help="request header, e.g. 'Authorization=Bearer <token>' (repeatable, or comma list)")  # fmt: skip
    parser.add_argument("--headers-from-env", action="store_true",
                        help="also send OTEL_EXPORTER_OTLP_HEADERS, as a Claude Code client would")  # fmt: skip
    parser.add_argument(
        "--no-retry",
        action="store_true",
        help="do not retry what asks for a retry (429, 503, UNAVAILABLE, a broken connection, ...): count it",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout in seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _print_summary(summary: dict[str, Any], out: TextIO | None = None) -> None:
    totals = summary["totals"]
    answers = ", ".join(f"{status}: {count}" for status, count in sorted(summary["answers"].items())) or "none"
    lines = [
        f"protocol {summary['protocol']}, shape {summary['shape']}, {summary['developers']} developers, "
        f"{summary['elapsed_s']} s",
        f"requests: {summary['requests_ok']} acknowledged of {summary['requests_sent']} sent, "
        f"{summary['requests_failed']} failed  ({summary['requests_per_s']:,} req/s)",
        f"points+records: {summary['points'] + summary['records']:,} ({summary['points']:,} points, "
        f"{summary['records']:,} records)  {summary['items_per_s']:,} /s",
        f"latency: p50 {summary['latency_p50_ms']} ms, p99 {summary['latency_p99_ms']} ms",
        f"answers by status: {answers}",
        f"refusals carrying Retry-After: {summary['refusals_with_retry_after'] or 'none'}",
        "acknowledged totals (what the API must show): " + ", ".join(f"{key} {value}" for key, value in totals.items()),
    ]
    print("\n".join(lines), file=out or sys.stdout)


def _per_developer(arguments: argparse.Namespace, url: str, headers: dict[str, str]) -> int:
    templates = Population(arguments.protocol, seed=arguments.seed).templates(arguments.developers)
    result = asyncio.run(
        run_direct(
            templates,
            developers=arguments.developers,
            url=url,
            protocol=arguments.protocol,
            duration_s=parse_duration(arguments.duration),
            headers=headers,
            retry=not arguments.no_retry,
            timeout_s=arguments.timeout,
            progress=not arguments.quiet,
        )
    )
    summary = result.summary()
    if arguments.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_summary(summary)
        print(f"connections: {summary['connections']} (opened {summary['connections_opened']}); acknowledged after "
              f"due: p50 {summary['ack_p50_ms']} ms, p99 {summary['ack_p99_ms']} ms; send lag p99 "
              f"{summary['send_lag_p99_ms']} ms")  # fmt: skip
    return 0 if result.succeeded and not result.failed else 1


def main(argv: list[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    url = arguments.url or ("http://127.0.0.1:4317" if arguments.protocol == "grpc" else "http://127.0.0.1:4318")
    headers = _headers(arguments.header)
    if arguments.headers_from_env and os.environ.get("OTEL_EXPORTER_OTLP_HEADERS"):
        headers = {**_headers([os.environ["OTEL_EXPORTER_OTLP_HEADERS"]]), **headers}
    rate: str | float = arguments.rate
    if rate not in ("max", "realtime"):
        try:
            rate = float(rate)
        except ValueError:
            print("cc-analytics loadgen: --rate must be realtime, max or a number", file=sys.stderr)
            return 2
    if arguments.connections == "per-developer":
        if rate != "realtime" or arguments.shape != "client":
            print("cc-analytics loadgen: --connections per-developer needs --rate realtime and --shape client",
                  file=sys.stderr)  # fmt: skip
            return 2
        return _per_developer(arguments, url, headers)
    workload = Workload(arguments.developers, arguments.protocol, arguments.shape, arguments.gateway_batch,
                        seed=arguments.seed)  # fmt: skip
    result = asyncio.run(
        run(
            workload.requests(),
            url=url,
            protocol=arguments.protocol,
            shape=arguments.shape,
            developers=arguments.developers,
            rate=rate,
            duration_s=parse_duration(arguments.duration),
            concurrency=arguments.concurrency,
            headers=headers,
            retry=not arguments.no_retry,
            timeout_s=arguments.timeout,
            progress=not arguments.quiet,
        )
    )
    summary = result.summary()
    if arguments.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_summary(summary)
    return 0 if result.succeeded and not result.failed else 1
