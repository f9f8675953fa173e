"""The tests' loopback load balancer (tests/support/balancer.py) between real TCP clients and servers."""

from __future__ import annotations

import errno
import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest

from tests.support.balancer import LoadBalancer, Route
from tests.support.collector import free_port

LISTENERS = ("grpc", "http")


class _Answer(socketserver.StreamRequestHandler):
    """Reads the whole request (until the client's half-close), answers `<name>:` and the bytes reversed."""

    def handle(self) -> None:
        received = self.rfile.read()
        self.wfile.write(self.server.name.encode() + b":" + received[::-1])  # type: ignore[attr-defined]


class _Backend(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, name: str) -> None:
        super().__init__(("127.0.0.1", 0), _Answer)
        self.name = name
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def port(self) -> int:
        return self.server_address[1]


@pytest.fixture
def backends() -> Iterator[list[dict[str, _Backend]]]:
    """Three backends, each with a server per listener that names itself (`<index>/<listener>`)."""
    servers = [{listener: _Backend(f"{index}/{listener}") for listener in LISTENERS} for index in range(3)]
    yield servers
    for backend in servers:
        for server in backend.values():
            server.shutdown()
            server.server_close()


def _ports(backends: list[dict[str, _Backend]]) -> list[dict[str, int]]:
    return [{listener: server.port for listener, server in backend.items()} for backend in backends]


def _exchange(balancer: LoadBalancer, listener: str, payload: bytes) -> bytes:
    """One connection through the balancer: send, half-close, read the answer to its end. A connection the
    balancer closed first (no backend took it) answers what was read until then: on a busy machine the close
    can come before the half-close, which then finds the socket no longer connected."""
    answer = bytearray()
    with socket.create_connection(("127.0.0.1", balancer.ports[listener]), timeout=30) as connection:
        try:
            connection.sendall(payload)
            connection.shutdown(socket.SHUT_WR)
            while chunk := connection.recv(65_536):
                answer += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass
        except OSError as exc:
            if exc.errno != errno.ENOTCONN:
                raise
    return bytes(answer)


def test_bytes_are_relayed_both_ways_to_the_listeners_backend(backends) -> None:
    payload = bytes(range(256)) * 1_000  # 256 kB, several reads and writes each way
    with LoadBalancer(_ports(backends), seed=1) as balancer:
        answers = {listener: _exchange(balancer, listener, payload) for listener in LISTENERS}
        routes = balancer.routes_since(0)
    assert [route.listener for route in routes] == list(LISTENERS)
    for route in routes:
        assert answers[route.listener] == f"{route.backend}/{route.listener}:".encode() + payload[::-1]


def test_each_connection_reaches_another_backend_than_the_previous_one(backends) -> None:
    sequences = []
    for _ in range(2):
        with LoadBalancer(_ports(backends), seed=7) as balancer:
            for index in range(30):
                _exchange(balancer, LISTENERS[index % 2], b"retry")
            sequences.append([route.backend for route in balancer.routes_since(0)])
    first, replayed = sequences
    assert all(before != after for before, after in zip(first, first[1:], strict=False)), first
    assert set(first) == {0, 1, 2}
    assert replayed == first  # the same seed, the same routes


def test_a_planned_route_is_taken(backends) -> None:
    with LoadBalancer(_ports(backends), seed=3) as balancer:
        for planned in (2, 2, 0, 1):
            balancer.route_next(planned)
            assert _exchange(balancer, "http", b"x") == f"{planned}/http:x".encode()
        assert [route.backend for route in balancer.routes_since(0)] == [2, 2, 0, 1]


def test_a_dead_backend_is_skipped_and_marked_down(backends) -> None:
    ports = _ports(backends)
    ports[1] = {listener: free_port() for listener in LISTENERS}  # nothing listens there: connections are refused
    with LoadBalancer(ports, seed=5, down_seconds=600) as balancer:
        balancer.route_next(1)
        answer = _exchange(balancer, "grpc", b"abc")
        (first,) = balancer.routes_since(0)
        assert first.refused == (1,) and first.backend in (0, 2)
        assert answer == f"{first.backend}/grpc:cba".encode()
        for index in range(10):
            _exchange(balancer, LISTENERS[index % 2], b"abc")
        later = balancer.routes_since(1)
        # Marked down after its refusal: never tried again, so the two live backends alternate.
        assert [route.refused for route in later] == [()] * 10
        assert {route.backend for route in later} == {0, 2}
        assert balancer.connect_failures == 1


def test_a_connection_no_backend_takes_is_closed() -> None:
    dead = [{listener: free_port() for listener in LISTENERS} for _ in range(2)]
    with LoadBalancer(dead, seed=2, down_seconds=600) as balancer:
        assert _exchange(balancer, "http", b"lost") == b""
        assert balancer.routes_since(0) == [Route("http", None, balancer.routes[0].refused)]
        assert sorted(balancer.routes[0].refused) == [0, 1] and balancer.connect_failures == 2
