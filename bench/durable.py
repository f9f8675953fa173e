"""The sections measured with queue.mode=wal and the bench's collector flags (`--collector-flags`, e.g.
`--workers 2`): gateway ingest against the decode ceiling, Claude Code's request shape and memory at 2× overload
(part of every run), and the direct-client sections (`--direct`, `--only-direct`): the capacity search per
protocol, then a store outage at half the measured gRPC capacity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.common import DURABLE_ENV, CollectorFlags, log
from bench.direct import SearchPlan, capacity, search_of
from bench.grpc_floor import grpc_floor
from bench.ingest import decode_ceiling, end_to_end
from bench.outage import outage
from bench.overload import overload
from bench.report import median_round
from loadgen.templates import Population
from tests.support.children import free_port

DIRECT_PROTOCOLS = ("grpc", "http/protobuf")
# Gateway runs per protocol in a full bench, each against the decode ceiling measured around it.
GATEWAY_ROUNDS = 3


def queue_sections(
    root: Path, results: dict[str, Any], quick: bool, flags: CollectorFlags, rounds: int | None = None
) -> None:
    """Gateway ingest (ceiling ratio on what was stored, not only acknowledged) in `rounds` runs per protocol
    (default GATEWAY_ROUNDS, quick 1), the decode ceiling measured before, between and after them; Claude Code's
    request shape; then memory at 2× overload of the median gateway round's acknowledged rate."""
    seconds = 3 if quick else 10
    rounds = rounds or (1 if quick else GATEWAY_ROUNDS)
    items = int(min(results["decode"]["protobuf gateway"], 40_000) * seconds)
    ceiling_items = 15_000 if quick else 60_000
    results["e2e_wal"] = []
    for protocol in ("grpc",) if quick else ("grpc", "http/protobuf"):
        # On a shared machine the decode rate alone moved by up to 2× within minutes, and a run's own rate with
        # it: each round is set against the mean of the ceilings measured just before and just after it (the one
        # between two rounds serves both), and the row reports the median round beside every round's ratio.
        ceilings = [decode_ceiling(protocol, "gateway", ceiling_items)]
        runs = []
        for round_ in range(1, rounds + 1):
            log(f"end-to-end {protocol} gateway, {flags.label()}, round {round_} of {rounds}: {seconds} s from a "
                f"pool of {items:,} points+records")  # fmt: skip
            name = f"e2e-{protocol.replace('/', '-')}-gateway-wal-{round_}"
            run_ = end_to_end(root, protocol, "gateway", items, seconds, name, flags.args, **DURABLE_ENV)
            run_.pop("metrics_scrape", None)
            run_["collector"] = flags.label()
            ceilings.append(decode_ceiling(protocol, "gateway", ceiling_items))
            run_["ceilings"] = ceilings[-2:]
            runs.append(run_)
        results["e2e_wal"].append({"protocol": protocol, "collector": flags.label(), "rounds": runs})
    # Claude Code's own request shape (one export per request, 64 in flight) in the same mode: what the first
    # rows measure with each answer waiting for the store.
    results["e2e_wal_client"] = []
    client_items = int(min(results["decode"].get("protobuf client", 6_000), 6_000) * seconds)
    for protocol in ("grpc",) if quick else ("grpc", "http/protobuf"):
        log(
            f"end-to-end {protocol} client, {flags.label()}: {seconds} s from a pool of {client_items:,} points+records"
        )
        name = f"e2e-{protocol.replace('/', '-')}-client-wal"
        run_ = end_to_end(root, protocol, "client", client_items, seconds, name, flags.args, **DURABLE_ENV)
        run_.pop("metrics_scrape", None)
        run_["collector"] = flags.label()
        results["e2e_wal_client"].append(run_)
    acknowledged = median_round(results["e2e_wal"][0]["rounds"])["items_per_s_committed"]
    results["overload_wal"] = []
    for protocol in ("grpc",) if quick else ("grpc", "http/protobuf"):
        log(f"overload {protocol}, {flags.label()}")
        name = f"overload-{protocol.replace('/', '-')}-wal"
        over = overload(root, protocol, acknowledged, 4 if quick else 10, name, flags.args, **DURABLE_ENV)
        over["collector"] = flags.label()
        results["overload_wal"].append(over)


def direct_sections(
    root: Path,
    results: dict[str, Any],
    quick: bool,
    flags: CollectorFlags,
    protocols: tuple[str, ...] = DIRECT_PROTOCOLS,
    start: int | None = None,
    outage_developers: int | None = None,
) -> None:
    """The capacity search for each of `protocols` (for gRPC, grpcio's own CPU per call first, to compare the
    collector's with), then the store outage (300 s, 30 s in quick mode) at `outage_developers`, else at half the
    gRPC capacity just measured."""
    # Protobuf bodies: the same templates serve gRPC and OTLP/HTTP protobuf.
    population = Population("grpc", seed=41, organization="bench-direct")
    plan = SearchPlan.of(quick, start)
    results["direct"] = []
    if "grpc" in protocols:
        calls = 2_000 if quick else 8_000
        log(f"grpcio's own CPU per call: a bare server, {calls:,} calls at 800/s over 200 channels")
        results["grpc_floor"] = grpc_floor(free_port(), calls=calls)
    for protocol in protocols:
        log(f"direct-client capacity, {protocol}, {flags.label()}: steps of {plan.step_s:.0f} s from "
            f"{plan.start:,} developers, doubling, then {plan.bisections} bisection(s)")  # fmt: skip
        results["direct"].append(capacity(root, population, protocol, plan, flags))
    basis = "given"
    if outage_developers is None:
        grpc = search_of(results, "grpc")
        outage_developers = grpc["developers"] // 2 if grpc else 0
        basis = "half the measured gRPC capacity"
    if not outage_developers:
        log("store outage skipped: no gRPC capacity measured (pass --outage-developers)")
        return
    outage_s = 30.0 if quick else 300.0
    log(f"store outage of {outage_s:.0f} s at {outage_developers:,} developers ({basis})")
    results["outage"] = outage(root, population, outage_developers, outage_s, flags)
    results["outage"]["basis"] = basis
