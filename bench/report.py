"""The table `make bench` prints: one row per measurement with its figure, its goal and whether it was met
(the table of bench/README.md)."""

from __future__ import annotations

import math
from typing import Any

from bench.direct import search_of
from bench.scrape_bench import GOAL_MS as SCRAPE_GOAL_MS

# The encoding a protocol's requests are decoded from: an end-to-end run is set against its decode ceiling.
ENCODING = {"grpc": "protobuf", "http/protobuf": "protobuf", "http/json": "json"}
# How the first rows' collectors run (bench/common.py MEMORY_ENV): each answer waits for the store's insert.
MEMORY_MODE = "queue.mode=memory, 1 process"
# Both modes' overload rows, each at twice the rate that mode sustains.
OVERLOAD_GOAL = "≤ idle + 100 MB, excess refused with Retry-After"
# The scale the query goals are set at; a smaller history (--quick) prints its figures without judging them.
GOAL_MEMBERS, GOAL_DAYS = 10_000, 364


def table(results: dict[str, Any]) -> str:
    cores = results["cores"]
    lines = [
        f"claude-code-analytics bench — {results['mode']} mode, {cores} cores, {results['cpu']}, "
        f"{results['started']}, took {results['took_s']:.0f} s",
        "",
        "| measurement | figure | goal | met |",
        "|---|---|---|---|",
    ]

    def row(name: str, figure: str, goal: str = "", met: bool | None = None) -> None:
        _row(lines, name, figure, goal, met)

    ceilings = results["decode"]
    for key, value in ceilings.items():
        row(f"decode ceiling, {key} (1 process, no I/O)", f"{value:,.0f} points+records/s ({value / cores:,.0f}/core)")
    per_dev = results["items_per_developer_s"]
    for run_ in results["e2e"]:
        name = f"end-to-end ingest, {run_['protocol']} {run_['shape']}, {MEMORY_MODE}"
        encoding = ENCODING[run_["protocol"]]
        ceiling = ceilings[f"{encoding} gateway"]
        ratio = run_["items_per_s_committed"] / ceiling
        figure = (f"{run_['items_per_s_committed']:,.0f}/s ({run_['requests_per_s']:,.0f} req/s, p99 "
                  f"{run_['latency_p99_ms']:.0f} ms, loadgen {run_.get('loadgen_cpu_cores', 0):.2f} cores) = "
                  f"{ratio:.2f}× ceiling; API totals "
                  f"{'match' if run_['api_totals_match'] else 'DIFFER'}")  # fmt: skip
        # The goal is judged on the default mode's gateway rows (durable_rows); these are set beside them.
        row(name, figure, "", run_["api_totals_match"])
    server = results.get("e2e_server")
    if server:
        embedded = next(r for r in results["e2e"] if r["protocol"] == "grpc" and r["shape"] == "gateway")
        row("end-to-end ingest, grpc gateway, storage.dsn=http:// (test server: HTTP over chDB)",
            f"{server['items_per_s_committed']:,.0f}/s ({server['requests_per_s']:,.0f} req/s, p99 "
            f"{server['latency_p99_ms']:.0f} ms) next to {embedded['items_per_s_committed']:,.0f}/s embedded = "
            f"{server['items_per_s_committed'] / embedded['items_per_s_committed']:.2f}×; API totals "
            f"{'match' if server['api_totals_match'] else 'DIFFER'}", "", server["api_totals_match"])  # fmt: skip
    unshared = results.get("e2e_server_unshared")
    if server and unshared:
        row("cost of the replicas' shared checks (dedup.shared: a digest lookup per group; delta workload)",
            f"{server['items_per_s_committed']:,.0f}/s on, {unshared['items_per_s_committed']:,.0f}/s off = "
            f"{server['items_per_s_committed'] / unshared['items_per_s_committed']:.2f}×; API totals "
            f"{'match' if unshared['api_totals_match'] else 'DIFFER'} off", "", unshared["api_totals_match"])  # fmt: skip
    lat = results["latency"]
    row("ingest-to-visible latency (probe → API)",
        f"p50 {lat['p50_ms']:.0f} ms, p99 {lat['p99_ms']:.0f} ms ({lat['seen']}/{lat['probes']} probes, background "
        f"{lat['background_items_per_s']:,}/s)", "p99 ≤ 2 s", lat["seen"] == lat["probes"] and lat["p99_ms"] <= 2000)  # fmt: skip
    for over in results["overload"]:
        refused = sum(over["refused"].values())
        carried = sum(over["refused_with_retry_after"].values())
        growth = over["peak_rss_mb"] - over["baseline_rss_mb"]
        row(f"peak memory at 2× overload, {over['protocol']}, {MEMORY_MODE}",
            f"{over['peak_rss_mb']} MB = idle {over['baseline_rss_mb']} MB + {growth} MB (RSS); offered "
            f"{over['offered_items_per_s']:,}/s (2× the grpc gateway's acknowledged rate above), "
            f"accepted {over['accepted_items_per_s']:,.0f}/s; refused {refused} ({', '.join(over['refused']) or '-'}), "
            f"{carried} with Retry-After; acknowledged all in API: {over['acknowledged_all_visible']}",
            OVERLOAD_GOAL, growth <= 100 and refused > 0 and carried == refused and over["acknowledged_all_visible"])  # fmt: skip
    metrics = results.get("metrics_scrape")
    if metrics:
        row("/metrics scrape, live collector (after the grpc gateway run)",
            f"p50 {metrics['p50_ms']} ms for {metrics['series']} series")  # fmt: skip
    rendered = results.get("metrics_scrape_10k")
    if rendered:
        if "error" in rendered:
            row(f"/metrics scrape with {rendered['series']:,} series", f"failed: {rendered['error']}",
                f"< {SCRAPE_GOAL_MS:.0f} ms", False)  # fmt: skip
        else:
            row(f"/metrics scrape with {rendered['series']:,} series".replace(",", " "),
                f"render p50 {rendered['p50_ms']:.1f} ms (worst {rendered['worst_ms']:.1f} ms), "
                f"{rendered['body_mb']:.2f} MB; with gzip p50 {rendered['gzip_p50_ms']:.1f} ms (bench/scrape_bench.py)",
                f"< {SCRAPE_GOAL_MS:.0f} ms", rendered["p50_ms"] < SCRAPE_GOAL_MS)  # fmt: skip
    lines += durable_rows(results)
    row(*_behind_a_gateway(results, per_dev))
    lines += history_rows(results.get("history"))
    return "\n".join(lines)


def _behind_a_gateway(results: dict[str, Any], per_developer_s: float) -> tuple[str, str]:
    """How many developers at Claude Code's default intervals the gRPC gateway rate stands for: in the default
    mode (the median round of durable_rows) when measured, else in queue.mode=memory. A gateway batching 50
    exports per request in front; a fleet connected directly is the direct-client rows' (`make bench-direct`)."""
    wal = next((g for g in results.get("e2e_wal", []) if g["protocol"] == "grpc"), None)
    if wal is not None:
        rate = median_round(wal["rounds"])["items_per_s_stored"]
        how = f"{wal['collector']}, the median round's stored rate"
    else:
        best = next(r for r in results["e2e"] if r["protocol"] == "grpc" and r["shape"] == "gateway")
        rate, how = best["items_per_s_committed"], MEMORY_MODE
    return (
        "developers one instance takes behind a gateway batching 50 exports per request (default intervals)",
        f"{rate / per_developer_s:,.0f} (grpc gateway, {how}; {per_developer_s * 60:.1f} points+records per "
        "developer-minute); connected directly: the direct-client rows (make bench-direct)",
    )


def _row(lines: list[str], name: str, figure: str, goal: str = "", met: bool | None = None) -> None:
    lines.append(f"| {name} | {figure} | {goal} | {'' if met is None else ('yes' if met else '**no**')} |")


def _process_memory(process: dict[str, Any]) -> str:
    """One process's idle and peak RSS, and its anonymous part when the run measured it."""
    figure = f"{process['process']} {process['idle']} → {process['peak']} MB"
    if "peak_anonymous" in process:
        figure += f" (anonymous {process['idle_anonymous']} → {process['peak_anonymous']})"
    return figure


def durable_rows(results: dict[str, Any]) -> list[str]:
    """The rows measured with queue.mode=wal (and the bench's collector flags, e.g. --workers)."""
    lines: list[str] = []
    for gateway in results.get("e2e_wal", []):
        _row(lines, f"end-to-end ingest, {gateway['protocol']} gateway, {gateway['collector']}",
             *_gateway_figure(gateway["rounds"]))  # fmt: skip
    for run_ in results.get("e2e_wal_client", []):
        _row(lines, f"end-to-end ingest, {run_['protocol']} client, {run_['collector']}",
             f"acknowledged {run_['items_per_s_committed']:,.0f}/s ({run_['requests_per_s']:,.0f} req/s, p99 "
             f"{run_['latency_p99_ms']:.0f} ms, 64 in flight, loadgen {run_.get('loadgen_cpu_cores', 0):.2f} cores), "
             f"all in the API {run_['visible_after_last_ack_s']:.1f} s after the last acknowledgement; API totals "
             f"{'match' if run_['api_totals_match'] else 'DIFFER'}", "", run_["api_totals_match"])  # fmt: skip
    for over in results.get("overload_wal", []):
        refused = sum(over["refused"].values())
        carried = sum(over["refused_with_retry_after"].values())
        growth = over["peak_rss_mb"] - over["baseline_rss_mb"]
        processes = f"RSS summed over {over['processes']} processes" if over["processes"] > 1 else "RSS"
        if "peak_anonymous_mb" in over:
            anonymous = over["peak_anonymous_mb"] - over["baseline_anonymous_mb"]
            processes += (f", of which anonymous {over['baseline_anonymous_mb']} → {over['peak_anonymous_mb']} MB "
                          f"(+ {anonymous} MB)")  # fmt: skip
        if over.get("per_process_rss_mb") and over["processes"] > 1:
            each = ", ".join(_process_memory(p) for p in over["per_process_rss_mb"])
            processes += f"; each at its own peak: {each}"
        _row(lines, f"peak memory at 2× overload, {over['protocol']}, {over['collector']}",
             f"{over['peak_rss_mb']} MB = idle {over['baseline_rss_mb']} MB + {growth} MB ({processes}); offered "
             f"{over['offered_items_per_s']:,}/s (2× the acknowledged rate above), accepted "
             f"{over['accepted_items_per_s']:,.0f}/s; refused {refused} ({', '.join(over['refused']) or '-'}), "
             f"{carried} with Retry-After; acknowledged all in API: {over['acknowledged_all_visible']}",
             OVERLOAD_GOAL, growth <= 100 and carried == refused and over["acknowledged_all_visible"])  # fmt: skip
    for search in results.get("direct", []):
        _row(lines, f"direct clients, {search['protocol']} (one connection per developer, default intervals, "
             f"{search['collector']})", _direct_figure(search),
             "≥ 10 000 (ack p99 ≤ 1 s, visible p99 ≤ 2 s, 0 refused)", search["developers"] >= 10_000)  # fmt: skip
    floor = results.get("grpc_floor")
    if floor:
        _row(
            lines,
            "grpcio's own CPU per call (a bare grpc.aio server answering an empty message, no collector code)",
            floor_figure(floor, search_of(results, "grpc")),
        )
    out = results.get("outage")
    if out:
        refused = sum(out["refused"].values()) + out["not_acknowledged"]
        lost = "0 lost (API totals match)" if out["api_totals_match"] else f"lost {out['lost']}"
        drain = (
            f"drained {out['drain_s']:.0f} s after the store returned" if out["drain_s"] is not None else "not drained"
        )
        load = "half capacity" if out.get("basis", "").startswith("half") else "a given load"
        _row(lines, f"store outage of {out['outage_s']:.0f} s at {load} ({out['protocol']}, "
             f"{out['developers']:,} developers, {out['collector']})",
             f"refused {refused}{' (' + ', '.join(out['refused']) + ')' if out['refused'] else ''}, {lost}; {drain}; "
             f"queue peak {out['queue_peak_mb']:,.0f} MB (oldest record {out['queue_peak_age_s']:.0f} s); "
             f"{out['requests_per_s']:,.0f} req/s, ack p99 {out['ack_p99_ms']:.0f} ms, loadgen "
             f"{out['loadgen_cores']:.2f} cores", "0 refused, 0 lost, drain time reported",
             refused == 0 and out["api_totals_match"] and out["drain_s"] is not None)  # fmt: skip
    return lines


def round_ratio(run_: dict[str, Any]) -> float:
    """What one gateway round stored per second, over the mean of the decode ceilings measured around it."""
    ceiling = sum(run_["ceilings"]) / len(run_["ceilings"])
    return run_["items_per_s_stored"] / ceiling if ceiling else math.nan


def median_round(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The round whose ratio is the median (of an even number, the lower of the two middle ones)."""
    ordered = sorted(runs, key=round_ratio)
    return ordered[(len(ordered) - 1) // 2]


def _gateway_figure(runs: list[dict[str, Any]]) -> tuple[str, str, bool]:
    """The median round's figures beside every round's ratio (durable.py measures the ceiling around each)."""
    middle = median_round(runs)
    ratio = round_ratio(middle)
    ceilings = " / ".join(f"{c:,.0f}" for c in [runs[0]["ceilings"][0], *(run_["ceilings"][-1] for run_ in runs)])
    differ = sum(not run_["api_totals_match"] for run_ in runs)
    if len(runs) == 1:
        rounds, totals = f"decode ceilings before and after the run {ceilings}/s", "DIFFER" if differ else "match"
    else:
        every = " / ".join(f"{round_ratio(run_):.2f}×" for run_ in runs)
        rounds = f"median of {len(runs)} rounds ({every}; decode ceilings before, between and after them {ceilings}/s)"
        totals = f"DIFFER in {differ} of {len(runs)} rounds" if differ else "match in every round"
    figure = (
        f"{rounds}: acknowledged {middle['items_per_s_committed']:,.0f}/s (p99 {middle['latency_p99_ms']:.0f} ms), "
        f"stored {middle['items_per_s_stored']:,.0f}/s (all in the API {middle['visible_after_last_ack_s']:.1f} s "
        f"after the last acknowledgement) = {ratio:.2f}× the ceiling around it; API totals {totals}"
    )
    return figure, "≥ 0.5× decode ceiling", ratio >= 0.5 and not differ


def floor_figure(floor: dict[str, Any], search: dict[str, Any] | None) -> str:
    figure = (f"{floor['cpu_per_call_us']:,.0f} µs per call ({floor['calls']:,} calls at {floor['rate']:,.0f}/s over "
              f"{floor['channels']} channels)")  # fmt: skip
    held = search["held_step"] if search else None
    if held:
        collector_us = held["collector_cores"] / held["requests_per_s"] * 1e6
        figure += (f" = {floor['cpu_per_call_us'] / collector_us:.0%} of the collector's CPU per gRPC request at "
                   f"{held['developers']:,} developers ({collector_us:,.0f} µs: receivers, queue and store)")  # fmt: skip
    return figure


def _direct_figure(search: dict[str, Any]) -> str:
    held, failed = search["held_step"], search["failed_step"]
    parts = []
    if held:
        parts.append(
            f"{held['developers']:,} developers held ({held['requests_per_s']:,.0f} req/s, "
            f"{held['items_per_s']:,.0f} points+records/s; ack p99 {held['ack_p99_ms']:.0f} ms, visible p99 "
            f"{held['visible']['p99_ms']:.0f} ms, 0 refused; loadgen {held['loadgen_cores']:.2f} cores, collector "
            f"{held['collector_cores']:.2f} cores)"
        )
    else:
        parts.append("no step held")
    if failed:
        bound = f"; the load generator fell behind too: send lag p99 {failed['send_lag_p99_ms']:.0f} ms"
        parts.append(
            f"{failed['developers']:,} not held: {'; '.join(failed['reasons'])} (loadgen {failed['loadgen_cores']:.2f} "
            f"cores, collector {failed['collector_cores']:.2f} cores{bound if failed['loadgen_bound'] else ''})"
        )
    elif held and held["developers"] >= search["machine_ceiling"]:
        parts.append(f"more not tried: the load generator can open {search['machine_ceiling']:,} connections here")
    parts.append(
        f"open-file limit {search['file_limit']:,}: ≤ {search['per_listener']:,} connections per listener per process"
    )
    if not all(step["api_totals_match"] for step in search["steps"] if step["held"]):
        parts.append("API totals DIFFER in a step that held")
    return "; ".join(parts)


def history_rows(scale: dict[str, Any] | None) -> list[str]:
    lines: list[str] = []

    def row(name: str, figure: str, goal: str = "", met: bool | None = None) -> None:
        _row(lines, name, figure, goal, met)

    if scale:
        # A raw scan of a few weeks is fast enough that the 20× says nothing: judged at the goal's scale only.
        at_goal_scale = scale["members"] >= GOAL_MEMBERS and scale["days"] >= GOAL_DAYS
        goal = "p50 ≤ 50 ms, ≥ 20× raw" + (
            "" if at_goal_scale else f" at {GOAL_MEMBERS:,} members × {GOAL_DAYS} days (the full bench)"
        )
        c = scale["counts"]
        dense = scale.get("dense_days", 0)
        row(f"synthetic history ({scale['members']:,} members × {scale['days']} days, the last {dense} at real density)",
            f"{c['metric_points']:,} points + {c['events']:,} events raw, {c['member_hourly']:,} member-hour rollup rows; "
            f"generated in {scale['generate_s']} s")  # fmt: skip
        if "summaries" in scale:
            summaries = scale["summaries"]
            row("day summaries brought up to date before the queries (the collector does so after commits)",
                f"{summaries['days']:,} days written in {summaries['seconds']} s")  # fmt: skip
        for timing in scale["timings"]:
            ratio = timing["ratio"]
            figure = f"p50 {timing['view_p50_ms']:.0f} ms" + (
                f"; raw scan {timing['raw_p50_ms']:.0f} ms = {ratio:.0f}× slower" if not math.isnan(ratio) else ""
            )
            met = timing["view_p50_ms"] <= 50 and (math.isnan(ratio) or ratio >= 20)
            row(f"query: {timing['name']}", figure, goal, met if at_goal_scale else None)
    return lines
