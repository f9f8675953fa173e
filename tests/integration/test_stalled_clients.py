"""Stalled and greedy clients cannot shut other senders out. Against the real collector, on loopback.

One collector serves the module (one process, queue.mode=memory): ingest tokens required, the open-file limit
systemd gives services by default (1024), short header, keep-alive and body deadlines, and a small
cumulative-series bound. Each test uses its
own organization, so its exact figures are its own. Every loop is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import selectors
import socket
import time
from collections.abc import Iterator

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse

from tests.support import otlp_raw as otlp
from tests.support.collector import CollectorProcess
from tests.support.running import running_with_token

TOKEN = "stalled-clients-test-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}
GRPC_AUTH = (("authorization", f"Bearer {TOKEN}"),)
FILE_LIMIT = 1024
HEADER_TIMEOUT_S = 3
KEEP_ALIVE_S = 6  # longer than the header deadline: a kept-alive connection waits past it for its next request
BODY_TIMEOUT_S = 6
MAX_SERIES = 50
CALLS_PER_PEER = 32  # limits.max_calls_per_peer's default
MAX_CONCURRENT_RPCS = 256  # limits.max_concurrent_rpcs's default


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    yield from running_with_token(
        tmp_path_factory.mktemp("stalled"),
        TOKEN,
        file_limit=FILE_LIMIT,
        extra_env={
            "CC_ANALYTICS_LIMITS_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT_S),
            "CC_ANALYTICS_LIMITS_KEEP_ALIVE_SECONDS": str(KEEP_ALIVE_S),
            "CC_ANALYTICS_LIMITS_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT_S),
            "CC_ANALYTICS_TEMPORALITY_MAX_SERIES": str(MAX_SERIES),
            # Below the largest body: a body declared that large would take the whole budget if its declared
            # size were reserved.
            "CC_ANALYTICS_LIMITS_MAX_INFLIGHT_BYTES": str(2 * 1024 * 1024),
            # One process answering after the chain: the limits here are each receiver process's, and a point
            # past temporality.max_series is part of the answer only then (collector/README.md, Known limits).
            "CC_ANALYTICS_QUEUE_MODE": "memory",
        },
    )


def send_each_way(collector: CollectorProcess, org: str, first_lines: int) -> None:
    """One export of `org` over HTTP/protobuf, HTTP/JSON and gRPC (lines first_lines, +1, +2), each required to
    be accepted in full."""
    for offset, protocol in enumerate(("http/protobuf", "http/json", "grpc")):
        document = otlp.edit_request(org, lines=first_lines + offset, session=f"s{offset}")
        otlp.send(collector, protocol, document, headers=AUTH)


def read_until_closed(sock: socket.socket, timeout_s: float) -> bytes:
    """Everything the collector sends on `sock` until it closes it; fails if it is still open after timeout_s."""
    sock.settimeout(timeout_s)
    received = b""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return received
        except TimeoutError:
            break
        if not chunk:
            return received
        received += chunk
    raise AssertionError(f"connection still open after {timeout_s} s; received {received[:200]!r}")


def log_lines(collector: CollectorProcess) -> int:
    return len(collector.log().splitlines())


# --- a body declared large, then stalled ------------------------------------------------------------------------


def test_a_stalled_body_of_the_largest_size_leaves_other_senders_at_200_and_is_ended_with_408(
    collector: CollectorProcess,
) -> None:
    org = "org-stalled-body"
    with socket.create_connection(("127.0.0.1", collector.http_port)) as stalled:
        # Declares the largest body allowed (limits.max_request_bytes), sends 4 KiB of it, stalls.
        stalled.sendall(
            b"POST /v1/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\n"
            + f"Authorization: Bearer {TOKEN}\r\nContent-Length: {4 * 1024 * 1024}\r\n\r\n".encode()
            + b"\x0a" * 4096
        )
        time.sleep(0.5)  # the collector has taken it in by now (before the fix: reserved its 4 MiB)
        send_each_way(collector, org, first_lines=1)
        assert otlp.figures(collector, org) == otlp.edit_figures(1 + 2 + 3, accepts=3, sessions=3)

        # The body never completes: at the deadline it is answered 408, in OTLP's format, and closed.
        answer = read_until_closed(stalled, BODY_TIMEOUT_S + 10)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), answer[:300]
    assert b"connection: close" in head.lower()
    status = status_pb2.Status.FromString(body)
    assert status.code == 4 and status.message == f"request body not received within {BODY_TIMEOUT_S} s"
    # Nothing of it was kept; what the others sent is there, exactly.
    assert otlp.figures(collector, org) == otlp.edit_figures(6, accepts=3, sessions=3)
    assert collector.process.poll() is None


def _connections_per_listener(collector: CollectorProcess) -> int:
    """Each HTTP listener's connection cap, as the collector planned it to fit its open-file limit."""
    planned = [json.loads(line) for line in collector.log().splitlines() if '"limits.connections' in line]
    return int(planned[0]["per_listener"])


def _answer_so_far(sock: socket.socket) -> bytes:
    sock.setblocking(False)
    try:
        return sock.recv(65536)
    except OSError:  # nothing yet (BlockingIOError), or reset
        return b""


def test_stalled_bodies_over_many_connections_leave_other_senders_at_200(collector: CollectorProcess) -> None:
    """Connections that all stall their bodies cannot hold every place of the listener until their deadline:
    a new connection takes the place of the one whose body has been arriving longest (answered 503 with a
    retry hint)."""
    org = "org-stalled-bodies"
    _raise_own_file_limit(4096)
    places = _connections_per_listener(collector)
    head = (
        b"POST /v1/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\n"
        + f"Authorization: Bearer {TOKEN}\r\nContent-Length: 100000\r\n\r\n".encode()
        + b"\x0a" * 100
    )
    sockets: list[socket.socket] = []

    def stall(count: int, pause_s: float) -> None:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", collector.http_port), timeout=10)
            sockets.append(sock)
            try:
                sock.sendall(head)
            except OSError:
                pass  # closed at once (the listener had no place to give)
            time.sleep(pause_s)  # the collector has read its headers: its body is under way

    try:
        stall(places, 0)  # every place of the listener, then 50 more, one at a time
        time.sleep(1)
        stall(50, 0.05)
        send_each_way(collector, org, first_lines=1)
        assert otlp.figures(collector, org) == otlp.edit_figures(6, accepts=3, sessions=3)
        time.sleep(0.5)
        answers = [_answer_so_far(sock) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    evicted = [answer for answer in answers if answer.startswith(b"HTTP/1.1 503 ")]
    assert len(evicted) >= 50, [answer[:40] for answer in answers]
    assert all(b"retry-after: 1\r\n" in answer.lower() for answer in evicted)
    assert collector.process.poll() is None


# --- gRPC calls that never send their message -----------------------------------------------------------------


async def _messageless_calls(channel: grpc.aio.Channel, count: int, metadata, release: asyncio.Event) -> list:
    method = channel.stream_unary(otlp.GRPC_METHODS["metrics"], request_serializer=None, response_deserializer=None)

    async def nothing():  # a request stream that sends no message until released, then ends
        await release.wait()
        return
        yield b""

    return [method(nothing(), metadata=metadata, timeout=60) for _ in range(count)]


async def _settled(calls: list, count: int, timeout_s: float) -> list:
    """The calls that have ended, once `count` of them have (or timeout_s passed)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and sum(call.done() for call in calls) < count:
        await asyncio.sleep(0.05)
    return [call for call in calls if call.done()]


def _retry_delay_s(trailers: grpc.aio.Metadata) -> int | None:
    status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
    for detail in status.details:
        info = error_details_pb2.RetryInfo()
        if detail.Unpack(info):
            return info.retry_delay.seconds
    return None


def test_300_messageless_grpc_calls_leave_another_senders_exports_at_ok(collector: CollectorProcess) -> None:
    org = "org-messageless-grpc"

    async def scenario() -> None:
        release = asyncio.Event()
        async with (
            grpc.aio.insecure_channel(collector.grpc_target) as keyed,
            grpc.aio.insecure_channel(collector.grpc_target) as anonymous,
        ):
            with_token = await _messageless_calls(keyed, 300, GRPC_AUTH, release)
            without_token = await _messageless_calls(anonymous, 300, None, release)
            try:
                # Without a token: every call is refused from its metadata, before any message.
                refused = await _settled(without_token, 300, 30)
                assert len(refused) == 300
                assert {await call.code() for call in refused} == {grpc.StatusCode.UNAUTHENTICATED}

                # With the token: one connection holds at most 32 calls; the rest are refused at once with a
                # retry hint, so the call slots (256) stay free for everyone else.
                over = await _settled(with_token, 300 - CALLS_PER_PEER, 30)
                assert len(over) == 300 - CALLS_PER_PEER
                for call in over:
                    assert await call.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                    trailers = await call.trailing_metadata()
                    assert trailers["retry-after"] == "1" and _retry_delay_s(trailers) == 1
                assert "calls of this connection are already in progress" in await over[0].details()

                # Meanwhile another sender's exports, over gRPC and HTTP, are accepted and counted exactly.
                await asyncio.to_thread(send_each_way, collector, org, 1)
                figures = await asyncio.to_thread(otlp.figures, collector, org)
                assert figures == otlp.edit_figures(6, accepts=3, sessions=3)

                # The held calls end at the message deadline, having kept nothing.
                held = [call for call in with_token if call not in over]
                ended = await _settled(held, CALLS_PER_PEER, BODY_TIMEOUT_S + 15)
                assert len(ended) == CALLS_PER_PEER
                assert {await call.code() for call in ended} == {grpc.StatusCode.DEADLINE_EXCEEDED}
            finally:
                for call in with_token + without_token:
                    call.cancel()
                release.set()

    asyncio.run(scenario())
    assert otlp.figures(collector, org) == otlp.edit_figures(6, accepts=3, sessions=3)


def test_messageless_calls_over_many_connections_leave_another_senders_exports_at_ok(
    collector: CollectorProcess,
) -> None:
    """A token holder opening connection after connection, each with its 32 calls that never send their
    message, cannot take every call slot either: past half of them (128), the longest waiting call gives way."""
    org = "org-messageless-many-connections"
    connections = MAX_CONCURRENT_RPCS // CALLS_PER_PEER + 1  # 9 × 32 = 288 calls, more than the 256 slots
    waiting_cap = MAX_CONCURRENT_RPCS // 2

    async def scenario() -> None:
        release = asyncio.Event()
        # A subchannel pool of its own per channel, so each channel is a connection of its own.
        channels = [grpc.aio.insecure_channel(collector.grpc_target, options=[("grpc.use_local_subchannel_pool", 1)])
                    for _ in range(connections)]  # fmt: skip
        calls: list = []
        try:
            for channel in channels:
                calls += await _messageless_calls(channel, CALLS_PER_PEER, GRPC_AUTH, release)
            evicted = await _settled(calls, len(calls) - waiting_cap, 30)
            assert len(evicted) == len(calls) - waiting_cap == 160
            for call in evicted:
                assert await call.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                assert (await call.trailing_metadata())["retry-after"] == "1"
            assert "128 other calls waited for theirs" in await evicted[0].details()

            # The slots left are everyone else's: another sender's exports are accepted and counted exactly.
            await asyncio.to_thread(send_each_way, collector, org, 1)
            figures = await asyncio.to_thread(otlp.figures, collector, org)
            assert figures == otlp.edit_figures(6, accepts=3, sessions=3)
        finally:
            for call in calls:
                call.cancel()
            release.set()
            for channel in channels:
                await channel.close()

    asyncio.run(scenario())
    assert otlp.figures(collector, org) == otlp.edit_figures(6, accepts=3, sessions=3)


# --- connections that say nothing, or trickle their headers ---------------------------------------------------


def _raise_own_file_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


def _open_idle(port: int, count: int, settle_s: float) -> tuple[list[socket.socket], list[socket.socket]]:
    """`count` connections that send the start of a request's headers and then nothing. Returns (all sockets,
    those the collector's listener let connect within settle_s)."""
    sockets, connected = [], []
    with selectors.DefaultSelector() as selector:
        for _ in range(count):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
            sockets.append(sock)
            selector.register(sock, selectors.EVENT_WRITE)
        deadline = time.monotonic() + settle_s
        pending = count
        while pending and time.monotonic() < deadline:
            for key, _ in selector.select(0.2):
                sock = key.fileobj
                selector.unregister(sock)
                pending -= 1
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                    continue
                try:
                    sock.send(b"POST /v1/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                    connected.append(sock)
                except OSError:
                    pass
    return sockets, connected


def _open_files(collector: CollectorProcess) -> int:
    return len(os.listdir(f"/proc/{collector.process.pid}/fd"))


def _closed_by_peer(sock: socket.socket) -> bool:
    try:
        return sock.recv(1024) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def _trickle(sock: socket.socket, data: bytes) -> tuple[bool, float]:
    """Send `data` one byte every 0.1 s until the collector closes `sock`: (closed, seconds it took)."""
    sock.setblocking(False)
    began = time.monotonic()
    for byte in data:
        try:
            sock.send(bytes([byte]))
        except OSError:
            return True, time.monotonic() - began
        if _closed_by_peer(sock):
            return True, time.monotonic() - began
        time.sleep(0.1)
    return False, time.monotonic() - began


def test_1100_idle_connections_under_a_1024_file_limit_leave_other_senders_at_200(
    collector: CollectorProcess,
) -> None:
    org = "org-idle-connections"
    _raise_own_file_limit(4096)
    before = log_lines(collector)
    sockets, connected = _open_idle(collector.http_port, 1100, settle_s=2)
    try:
        assert connected, "no idle connection got in"
        open_files = [_open_files(collector)]
        # Ingest (HTTP and gRPC) and the API answer as usual.
        for lines in range(1, 11):
            response = otlp.post(collector, "metrics", otlp.to_protobuf(otlp.edit_request(org, lines, session=f"h{lines}")),
                                 headers=AUTH)  # fmt: skip
            assert response.status_code == 200, response.content
            open_files.append(_open_files(collector))
        otlp.send(collector, "grpc", otlp.edit_request(org, lines=100, session="g"), headers=AUTH)
        assert httpx.get(f"{collector.api_url}/readyz", timeout=10).status_code == 200
        assert otlp.figures(collector, org) == otlp.edit_figures(55 + 100, accepts=11, sessions=11)

        # The collector kept inside its file limit all along (its listeners' connection caps), so nothing ever
        # failed to open a file: not an accept, not a store part.
        assert max(open_files) < FILE_LIMIT - 100, open_files
    finally:
        for sock in sockets:
            sock.close()
    # The flood costs a few lines of log (closings are rate-limited to one line a second per kind), not
    # one per connection.
    assert log_lines(collector) - before < 40, collector.log()[-3000:]
    assert collector.process.poll() is None


def test_trickled_headers_are_cut_off_at_the_header_deadline(collector: CollectorProcess) -> None:
    headers = (
        b"POST /v1/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\n"
        + b"X-Pad: "
        + b"a" * 200
    )
    with socket.create_connection(("127.0.0.1", collector.http_port)) as trickler:
        closed, trickled_s = _trickle(trickler, headers)  # at most ~27 s, far past the 3 s deadline
    assert closed, "a connection trickling its headers was never closed"
    assert trickled_s < HEADER_TIMEOUT_S + 10


def test_a_kept_alive_connection_waits_past_the_header_deadline_then_is_closed_when_idle(
    collector: CollectorProcess,
) -> None:
    org = "org-keep-alive"
    with socket.create_connection(("127.0.0.1", collector.http_port)) as kept:
        first = otlp.exchange(kept, otlp.to_protobuf(otlp.edit_request(org, lines=2, session="k1")), AUTH)
        # Idle past the header deadline: an exporter's next export on the same connection is still answered.
        time.sleep(HEADER_TIMEOUT_S + 1)
        second = otlp.exchange(kept, otlp.to_protobuf(otlp.edit_request(org, lines=3, session="k2")), AUTH)
        answered = time.monotonic()
        # Then idle for good: closed after the keep-alive time, not before.
        assert read_until_closed(kept, KEEP_ALIVE_S + 10) == b""
        idle_s = time.monotonic() - answered
    for answer in (first, second):
        assert otlp.kept_alive_ok(answer), answer[:300]
    assert KEEP_ALIVE_S - 1 <= idle_s < KEEP_ALIVE_S + 5, idle_s
    assert otlp.figures(collector, org)["accepted_lines"] == 5


def test_trickled_headers_on_a_kept_alive_connection_are_cut_off_at_the_header_deadline(
    collector: CollectorProcess,
) -> None:
    org = "org-keep-alive-trickle"
    with socket.create_connection(("127.0.0.1", collector.http_port)) as kept:
        answer = otlp.exchange(kept, otlp.to_protobuf(otlp.edit_request(org, lines=1)), AUTH)
        assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]
        closed, trickled_s = _trickle(kept, b"POST /v1/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"a" * 200)
    # The header deadline counts from the next request's first byte (not from the answer before it), and the
    # keep-alive time no longer applies once bytes arrive.
    assert closed, "headers trickled on a kept-alive connection were never cut off"
    assert HEADER_TIMEOUT_S - 1 <= trickled_s < KEEP_ALIVE_S, trickled_s


def test_headers_pipelined_behind_an_answered_request_and_stalled_are_cut_off_at_the_header_deadline(
    collector: CollectorProcess,
) -> None:
    org = "org-keep-alive-pipelined"
    body = otlp.to_protobuf(otlp.edit_request(org, lines=4))
    with socket.create_connection(("127.0.0.1", collector.http_port)) as kept:
        began = time.monotonic()
        # A whole request, then the start of the next one behind it, then nothing.
        kept.sendall(otlp.http_request(body, AUTH) + b"POST /v1/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        answer = read_until_closed(kept, KEEP_ALIVE_S + 10)
        closed_s = time.monotonic() - began
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]
    # Its headers were due from the answer on, within the header deadline, not the longer keep-alive time.
    assert closed_s < KEEP_ALIVE_S - 1, closed_s
    assert otlp.figures(collector, org)["accepted_lines"] == 4


# --- many cumulative series -----------------------------------------------------------------------------------


def _cumulative_lines(org: str, sessions: range, total: float, time_ns: int, start_ns: int) -> dict:
    points = [
        otlp.point(total, {**otlp.who(org, session=f"c{index}"), "type": "added"}, time_ns, start_ns)
        for index in sessions
    ]
    return otlp.metrics_request([otlp.sum_metric(otlp.LINES, points, otlp.CUMULATIVE)])


def test_cumulative_series_past_the_bound_are_refused_as_partial_success(collector: CollectorProcess) -> None:
    org = "org-many-series"
    start = otlp.now_ns() - 60 * 10**9
    first = _cumulative_lines(org, range(MAX_SERIES + 30), 2, otlp.now_ns(), start)
    response = otlp.post(collector, "metrics", otlp.to_json(first), otlp.CONTENT_TYPES["json"], AUTH)
    assert response.status_code == 200, response.content
    partial = response.json()["partialSuccess"]
    assert int(partial["rejectedDataPoints"]) == 30
    assert "temporality.max_series" in partial["errorMessage"]
    assert otlp.figures(collector, org)["accepted_lines"] == MAX_SERIES * 2

    # The series already held go on as usual (each 2 → 5 adds 3); new ones are still refused.
    later = _cumulative_lines(org, range(MAX_SERIES), 5, otlp.now_ns(), start)
    otlp.send(collector, "http/protobuf", later, headers=AUTH)
    assert otlp.figures(collector, org)["accepted_lines"] == MAX_SERIES * 5
    answer = otlp.grpc_export(collector, "metrics", otlp.to_protobuf(_cumulative_lines(org, range(900, 901), 7,
                                                                                       otlp.now_ns(), start)),
                              list(GRPC_AUTH))  # fmt: skip
    assert ExportMetricsServiceResponse.FromString(answer).partial_success.rejected_data_points == 1
    assert otlp.figures(collector, org)["accepted_lines"] == MAX_SERIES * 5
