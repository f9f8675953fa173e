"""Wiring and lifecycle of `cc-analytics run`: store → processors → pipeline → receivers and API."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import signal
import stat
import time
from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path

from prometheus_client import CollectorRegistry

from collector import heap
from collector.config import Config, ConfigError
from collector.connections import ConnectionPlan, plan_connections, raise_file_limit
from collector.deadletter import DeadLetterFile
from collector.freedmemory import FreedMemoryTrimmer, glibc_trim
from collector.lifecycle import Component, Lifecycle, inline
from collector.listeners import Listeners, add_otlp
from collector.pipeline import Pipeline, PipelineConfig
from collector.selfmetrics import InstrumentedStore, QueueTracker, SelfMetrics, register_process_metrics
from collector.service import ServiceConfig
from collector.storehealth import HealthGatedStore, StoreHealth, embedded_path
from collector.wal import QueuedConsumer, QueueStats, UnknownFormat
from collector.workers.pool import WorkerPool
from console.access import AccessError, AccessStore, read_initial_owner
from console.answers import KeptAnswers
from console.api import create_api_app
from console.config import ConsoleConfig
from exporters.clickhouse import (
    ClickHouseConfig,
    ClickHouseStore,
    QueryFailed,
    StoreUnavailable,
    create_day_summaries,
    create_store,
)
from exporters.prometheus import PrometheusConfigError, create_exporter
from exporters.prometheus.factory import read_scrape_token
from pdata.consumer import Consumer
from pdata.store import SharedStateLookups
from processors.chain import ProcessorChain
from processors.dedup import RequestDeduplicator
from processors.identity import DirectoryEntry, DirectoryFileError, IdentityResolver, load_directory
from processors.temporality import CumulativeToDelta, SeriesState, StoredSeries, StoredSeriesLookup
from receiver.otlp import OtlpReceiverConfig, create_admission
from receiver.otlp.auth import NO_TOKENS_EFFECT, TokenAuth
from receiver.otlp.factory import create_token_auth, shared_tokens

log = logging.getLogger("cc_analytics.collector")


def build_chain(
    config: Config, store: SharedStateLookups, directory: dict[str, DirectoryEntry] | None = None
) -> ProcessorChain:
    """The processors, seeded from what the store already holds so a restart neither loses nor repeats."""
    processors = config.processors
    if directory is None:
        directory = load_directory(processors.directory_file)
    # Replicas on one store (dedup.shared): each group is checked against what the others committed.
    shared = config.shared_state
    converter = CumulativeToDelta(
        max_series=processors.temporality_max_series, stored=stored_series_lookup(store) if shared else None
    )
    now = time.time_ns()
    not_resumed = 0  # past temporality.max_series (the most recently arrived come first)
    for key, start_ns, value, time_ns, received_ns in store.cumulative_series_state(now - processors.state_window_ns):
        state = SeriesState(int(start_ns), float(value), int(time_ns))
        not_resumed += not converter.restore(int(key), state, int(received_ns))
    window_ns = processors.dedup_window_ns
    deduplicator = RequestDeduplicator(window_ns, store.stored_request_digests if shared else None)
    for digest, received_ns in store.recent_request_digests(now - window_ns):
        deduplicator.remember(digest, int(received_ns))
    log.info(
        "processors.restored",
        extra={
            "fields": {
                "cumulative_series": len(converter),
                "cumulative_series_not_resumed": not_resumed,
                "recent_requests": len(deduplicator),
                "shared_state": shared,
            }
        },
    )
    return ProcessorChain(
        identity=IdentityResolver(directory),
        converter=converter,
        deduplicator=deduplicator,
        store_content=processors.privacy_store_content,
        state_window_ns=processors.state_window_ns,
        policy=processors.value_policy(),
    )


def stored_series_lookup(store: SharedStateLookups) -> StoredSeriesLookup:
    """The converter's view of the series other collectors committed to the store."""

    def lookup(keys: Collection[int], since_ns: int) -> dict[int, StoredSeries]:
        return {
            key: StoredSeries(SeriesState(start_ns, value, time_ns), received_ns)
            for key, (start_ns, value, time_ns, received_ns) in store.stored_series_state(keys, since_ns).items()
        }

    return lookup


@dataclass(frozen=True, slots=True)
class StartupFiles:
    auth: TokenAuth
    directory: dict[str, DirectoryEntry]
    access: AccessStore
    initial_owner_sha256: str


def load_files(config: Config) -> StartupFiles:
    """Every file the operator points at, read before anything starts: a fault is a ConfigError naming the
    file, the entry and what is wrong, and the collector stops with it (exit 2) having opened nothing."""
    auth = create_token_auth(config.receiver)
    console_config, metrics_config = config.console, config.prometheus
    try:
        directory = load_directory(config.processors.directory_file)
        access = AccessStore(console_config.access_file)
        owner_file = console_config.initial_owner_token_file
        initial_owner = read_initial_owner(Path(owner_file)) if owner_file else ""
        if metrics_config.port:
            read_scrape_token(metrics_config)  # read again by the exporter when it starts
    except (DirectoryFileError, AccessError) as exc:
        raise ConfigError(str(exc)) from None
    except UnicodeDecodeError:
        raise ConfigError(f"metrics.scrape_token_file: {metrics_config.scrape_token_file} is not UTF-8 text") from None
    return StartupFiles(auth, directory, access, initial_owner)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # "" or a host name: not provably loopback
        return False


def warn_about_exposure(config: OtlpReceiverConfig, auth: TokenAuth) -> None:
    """Start-up warnings for settings that let anyone write figures, or no one."""
    if auth.required and auth.token_count == 0:
        log.warning("auth.no_tokens", extra={"fields": {"file": config.tokens_file, "effect": NO_TOKENS_EFFECT}})
    if not auth.required and not _is_loopback(config.bind):
        log.warning(
            "auth.open_ingest",
            extra={
                "fields": {
                    "bind": config.bind,
                    "effect": "OTLP ingest needs no token on a non-loopback address: anyone who reaches "
                    f"ports {config.grpc_port}/{config.http_port} can write figures (set auth.tokens_file)",
                }
            },
        )


# Everything this process writes (the store's files, the access file, journals) is its owner's alone: the
# data directory holds every member's email and spend.
PRIVATE_UMASK = 0o077


def prepare_data_dir(path: Path) -> None:
    """Create the data directory 0700; an existing one is left as the operator made it, with a warning
    when other users may read it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning(
            "data_dir.permissions",
            extra={
                "fields": {
                    "data_dir": str(path),
                    "mode": oct(mode),
                    "effect": "other local users may read members' emails and spend; run chmod 700 on it",
                }
            },
        )


def plan_listeners(service: ServiceConfig, metrics_port: int) -> ConnectionPlan:
    """Per-listener connection caps that fit the open-file limit (raised to its hard limit first)."""
    listeners = 3 + (1 if metrics_port else 0)  # OTLP/gRPC, OTLP/HTTP, console, /metrics
    plan = plan_connections(service.max_connections, listeners, raise_file_limit())
    fields = {"per_listener": plan.per_listener, "listeners": listeners, "file_limit": plan.file_limit}
    if plan.clamped:
        log.warning(
            "limits.connections_lowered",
            extra={
                "fields": {
                    **fields,
                    "requested": service.max_connections,
                    "effect": "the open-file limit (ulimit -n, LimitNOFILE=) cannot hold limits.max_connections "
                    "per listener; raise it to serve more clients at once",
                }
            },
        )
    else:
        log.info("limits.connections", extra={"fields": fields})
    return plan


# queue.mode=wal: how long the pipeline waits for the rest of a group the drainer is handing over (in one tight
# loop, every record decoded first). Ample for that, so a retried group is taken whole, as the same insert (its
# token makes a half-committed insert whole: exporters/clickhouse/insert_journal.py).
WAL_GROUP_LINGER_S = 0.05


def _pipeline_config(config: Config) -> PipelineConfig:
    """In queue.mode=wal the drainer hands the pipeline whole groups (paced by queue.drain_interval_ms): lingering
    for more, as it does for receivers' single requests (up to as long as the last insert took), would only idle
    between a group and its insert. Its queue then holds two groups: the one being written and the next, handed
    over meanwhile while a backlog drains."""
    pipeline = PipelineConfig(max_queued_items=config.service.max_queued_items)
    if not config.queue.durable:
        return pipeline
    group = config.queue.drain_group_items
    return replace(
        pipeline,
        max_queued_items=2 * group,
        max_group_items=max(pipeline.max_group_items, group),
        linger_s=WAL_GROUP_LINGER_S,
        max_linger_s=WAL_GROUP_LINGER_S,
    )


def open_store(config: ClickHouseConfig) -> ClickHouseStore:
    """Connect and migrate; a store that cannot be opened stops the collector with one line saying why (the
    DSN's password is never in it), exit code 1, so a supervisor restarts it once the store is back."""
    try:
        return create_store(config)
    except (StoreUnavailable, QueryFailed) as exc:
        log.error("store.open_failed", extra={"fields": {"error": str(exc)}})
        raise SystemExit(f"cannot open the store: {exc}") from None


@dataclass(frozen=True, slots=True)
class _Running:
    stop: asyncio.Event
    pipeline: Pipeline
    first_token: str | None  # the new Primary Owner's token on a first start, shown once


async def serve(config: Config) -> None:
    os.umask(PRIVATE_UMASK)
    files = load_files(config)
    warn_about_exposure(config.receiver, files.auth)
    prepare_data_dir(config.service.data_dir)
    lifecycle = Lifecycle()
    try:
        running = await _start(config, files, lifecycle)
    except BaseException:
        # What started is stopped (the store closed, the journals written); the start's fault is the one shown.
        with contextlib.suppress(Exception):
            await lifecycle.shutdown()
        raise
    heap.settle("writer")
    if running.first_token:
        _announce_login(config.service.bind, config.console, running.first_token)
    await running.stop.wait()
    log.info("collector.stopping")
    await lifecycle.shutdown()
    log.info("collector.stopped", extra={"fields": {"written_groups": running.pipeline.written_groups}})


async def _start(config: Config, files: StartupFiles, lifecycle: Lifecycle) -> _Running:
    """Each component built through its factory and started in order: store, Prometheus exporter, pipeline,
    the durable queue (queue.mode=wal), listeners (OTLP/gRPC, OTLP/HTTP, console, /metrics). `lifecycle` stops
    them in reverse."""
    service, metrics_config, console_config = config.service, config.prometheus, config.console
    trimmer = FreedMemoryTrimmer(service.trim_interval_ms / 1000, glibc_trim(), "writer")
    await lifecycle.start(Component("memory_trimmer", start=inline(trimmer.start), shutdown=inline(trimmer.stop)))
    store = open_store(config.store)
    await lifecycle.start(Component("store", shutdown=inline(store.close)))
    log.info("store.ready", extra={"fields": {"dsn": store.redacted_dsn}})
    health = StoreHealth(store, embedded_path(config.dsn))
    chain = build_chain(config, store, files.directory)
    registry = CollectorRegistry()
    observer = SelfMetrics(registry)
    observer.watch_chain(chain)
    register_process_metrics(registry)
    # Claude Code's counters are fed with each committed group's facts; gauges read the rollups.
    exporter = create_exporter(metrics_config, store, registry)
    # Closing writes the counters' series journal, once nothing more can be committed.
    await lifecycle.start(Component("prometheus_exporter", shutdown=inline(exporter.close)))
    # The day summaries the console's long ranges read are brought up to date after commits, in a thread.
    summaries = create_day_summaries(store, config.store)
    if summaries is not None:
        await lifecycle.start(
            Component(
                "day_summaries", start=inline(summaries.start), shutdown=lambda: asyncio.to_thread(summaries.close)
            )
        )
    commit_listeners = [exporter.on_commit] if metrics_config.port else []
    if summaries is not None:
        commit_listeners.append(summaries.on_commit)
    # Answers are kept only while this process is the store's one writer (embedded): on a ClickHouse server other
    # collectors commit too, and their commits would not make this one forget what it kept.
    answers = KeptAnswers(console_config.kept_answers if store.embedded else 0)
    observer.watch_answers(answers)
    pipeline_config = _pipeline_config(config)
    dead_letters = DeadLetterFile(
        service.data_dir / "dead-letter.jsonl", service.dead_letter_max_bytes, observer.dead_letter_done
    )
    pipeline = Pipeline(
        chain,
        InstrumentedStore(HealthGatedStore(store, health), observer),
        pipeline_config,
        listeners=commit_listeners,
        dead_letters=dead_letters,
        before_answers=[answers.committed],
    )
    # Closing writes what is queued and resolves each batch's future, so what was acknowledged is committed.
    await lifecycle.start(
        Component("pipeline", start=inline(pipeline.start), shutdown=lambda: asyncio.to_thread(pipeline.close))
    )
    tracker = QueueTracker(pipeline, lambda: pipeline.queued_items)
    observer.watch_queue(tracker, pipeline_config.max_queued_items)
    durable_queue = await _start_durable_queue(config, chain, tracker, dead_letters, lifecycle)
    observer.watch_durable_queue(durable_queue.stats if durable_queue else QueueStats)
    consumer: Consumer = durable_queue or tracker
    auth = files.auth
    connections = plan_listeners(service, metrics_config.port)
    receiver_config = replace(config.receiver, max_connections=connections.per_listener)
    admission = create_admission(receiver_config)  # one in-flight budget for both transports

    def ready() -> tuple[bool, str]:
        if durable_queue is not None:  # takes requests through a store outage, while it has room
            return durable_queue.readiness()
        healthy, reason = health.check()
        if not healthy:
            return False, reason
        if pipeline.queued_items >= pipeline_config.max_queued_items:
            return False, "write queue full"
        return True, ""

    workers = await start_workers(config, auth, durable_queue, observer, lifecycle)
    observer.watch_inflight(
        (lambda: admission.inflight_bytes) if workers.receives_here else workers.inflight_bytes,
        receiver_config.max_inflight_bytes,
    )
    listeners = Listeners(service, connections, receiver_config.body_timeout_s)
    if workers.receives_here:
        add_otlp(listeners, receiver_config, auth, consumer, workers.observer_for(0), admission)
    access = files.access
    try:
        owner_from_file = bool(files.initial_owner_sha256) and not access.principals()
        first_token = access.ensure_ready(files.initial_owner_sha256)
    except AccessError as exc:
        raise ConfigError(str(exc)) from None
    if owner_from_file:
        log.info(
            "console.owner_created",
            extra={
                "fields": {
                    "access_file": str(console_config.access_file),
                    "token_from": "console.initial_owner_token_file",
                }
            },
        )
    # Probes carry no data and come by pod address or service name: they skip the Host check.
    console_app = create_api_app(store, ready, access, console_config.auth_settings(), answers)
    listeners.add(
        listeners.guard(console_app, "console", open_paths=("/healthz", "/readyz")),
        console_config.port,
        listener="console",
    )
    metrics_bind = metrics_config.bind or service.bind
    if metrics_config.port:
        try:
            metrics_app = exporter.app()
        except PrometheusConfigError as exc:
            raise SystemExit(str(exc)) from None
        listeners.add(
            listeners.guard(metrics_app, "metrics", metrics_bind), metrics_config.port, metrics_bind, listener="metrics"
        )

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    async def start_listeners() -> None:
        exporter.view.hold_from_now()  # the start-up hold counts from the first moment /metrics can be scraped
        await listeners.start()

    await lifecycle.start(Component("listeners", start=start_listeners, shutdown=listeners.stop))
    log.info(
        "collector.started",
        extra={
            "fields": {
                "bind": service.bind,
                "otlp_grpc_port": receiver_config.grpc_port,
                "otlp_http_port": receiver_config.http_port,
                "api_port": console_config.port,
                "metrics_port": metrics_config.port,
                "metrics_bind": metrics_bind,
                "metrics_scrape_token": bool(metrics_config.scrape_token_file),
                "auth": "token required" if auth.required else "open",
                # queue.mode as resolved (auto: wal, or memory on a store shared with other replicas).
                "queue": "wal" if config.queue.durable else "memory",
                "receiver_processes": service.worker_count(config.queue.durable),
            }
        },
    )
    return _Running(stop, pipeline, first_token)


async def _start_durable_queue(
    config: Config, chain: ProcessorChain, pipeline: Consumer, dead_letters: DeadLetterFile, lifecycle: Lifecycle
) -> QueuedConsumer | None:
    """queue.mode=wal: the receivers' consumer is the durable queue, drained into `pipeline`. Started after the
    pipeline, so it is closed before it: it stops taking requests and drains what the store takes first."""
    if not config.queue.durable:
        return None
    service = config.service
    durable_queue = QueuedConsumer(
        service.data_dir / "wal",
        config.queue,
        pipeline,
        chain.policy,
        chain.privacy,
        chain.deduplicator.seen,
        max_group_items=config.queue.drain_group_items,
        refused_before=dead_letters.written_digests(),
    )

    async def start() -> None:
        try:
            await asyncio.to_thread(durable_queue.start)
        except UnknownFormat as exc:
            raise SystemExit(str(exc)) from None

    await lifecycle.start(
        Component("durable_queue", start=start, shutdown=lambda: asyncio.to_thread(durable_queue.close))
    )
    return durable_queue


async def start_workers(
    config: Config, auth: TokenAuth, durable_queue: QueuedConsumer | None, metrics: SelfMetrics, lifecycle: Lifecycle
) -> WorkerPool:
    """run --workers N: with N > 1, N receiver processes feeding this one's durable queue (with N = 1 this one
    receives). Started before this process's listeners, so stopped after them: each answers what it took in while
    the queue still takes it."""
    pool = WorkerPool(config.service.worker_count(config.queue.durable), config, durable_queue, metrics)
    good = auth.good_tokens()
    if pool.count > 1 and good is not None:
        # The version this process checked at start-up is where the receiver processes start from.
        shared_tokens(config.service.data_dir).start(good)
    await lifecycle.start(Component("workers", start=pool.start, shutdown=pool.stop))
    return pool


def _announce_login(bind: str, console_config: ConsoleConfig, token: str) -> None:
    """First start with no console principals: show the new Primary Owner's login URL once, as Jupyter
    does. It goes to stdout only, never to the JSON log, so log shipping never carries the token."""
    host = "127.0.0.1" if bind in ("0.0.0.0", "::", "") else bind
    host = f"[{host}]" if ":" in host else host
    log.info("console.owner_created", extra={"fields": {"access_file": str(console_config.access_file)}})
    print(
        "\nThe console has no principals yet: created a Primary Owner. Open this URL once to sign in\n"
        f"(it is not shown again; `cc-analytics access rotate owner` makes a new one):\n\n"
        f"    http://{host}:{console_config.port}/login?token={token}\n",
        flush=True,
    )
