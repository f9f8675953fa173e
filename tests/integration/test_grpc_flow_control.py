"""otlp.grpc_bdp_probe: the gRPC listener widens its HTTP/2 receive windows (probing the link with PING frames)
only when the operator turns it on, so by default a stalled or refused call can have sent at most its 64 KiB.

Spoken as raw HTTP/2 frames, the way a client's transport sees the server: the PING frames a server sends while
data arrives are the probes of its window tuning (keepalive pings start only after 2 hours)."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from tests.support.collector import CollectorProcess
from tests.support.running import running

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, SETTINGS, PING, GOAWAY = 0, 1, 4, 6, 7
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1
PATH = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"


def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def literal(name: str, value: str) -> bytes:
    """HPACK literal header field without indexing, new name, no Huffman coding (RFC 7541, 6.2.2)."""
    assert len(name) < 127 and len(value) < 127
    return b"\x00" + bytes([len(name)]) + name.encode() + bytes([len(value)]) + value.encode()


def read_frame(sock: socket.socket) -> tuple[int, int, int, bytes]:
    head = receive(sock, 9)
    length = int.from_bytes(head[:3], "big")
    return head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7FFFFFFF, receive(sock, length)


def receive(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} of {size} bytes")
        data += chunk
    return data


def export_call(port: int, message: bytes) -> list[tuple[int, int, int, bytes]]:
    """One Export call on a fresh connection; every frame the server sent until the call's end (trailers with
    END_STREAM, or a GOAWAY), the server's SETTINGS and PINGs answered as a client's transport does."""
    headers = b"".join(
        literal(name, value)
        for name, value in (
            (":method", "POST"),
            (":scheme", "http"),
            (":path", PATH),
            (":authority", f"127.0.0.1:{port}"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
        )
    )
    body = b"\x00" + struct.pack(">I", len(message)) + message
    assert len(body) < 65_535, "the whole message fits HTTP/2's initial window: no flow control to follow here"
    received = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(PREFACE + frame(SETTINGS, 0, 0))
        sock.sendall(frame(HEADERS, END_HEADERS, 1, headers))
        for start in range(0, len(body), 16_384):  # SETTINGS_MAX_FRAME_SIZE's default
            last = start + 16_384 >= len(body)
            sock.sendall(frame(DATA, END_STREAM if last else 0, 1, body[start : start + 16_384]))
            time.sleep(0.05)  # the data arrives over time, as from a real link
        while True:
            kind, flags, stream, payload = read_frame(sock)
            received.append((kind, flags, stream, payload))
            if kind == SETTINGS and not flags & ACK:
                sock.sendall(frame(SETTINGS, ACK, 0))
            elif kind == PING and not flags & ACK:
                sock.sendall(frame(PING, ACK, 0, payload))
            elif (kind == HEADERS and stream == 1 and flags & END_STREAM) or kind == GOAWAY:
                return received


def a_large_export() -> bytes:
    request = ExportMetricsServiceRequest()
    attribute = request.resource_metrics.add().resource.attributes.add()
    attribute.key = "padding"
    attribute.value.string_value = "x" * 60_000
    return request.SerializeToString()


@pytest.fixture(scope="module", params=[False, True], ids=["default", "probing"])
def probing(request: pytest.FixtureRequest) -> bool:
    """Whether the collector runs with otlp.grpc_bdp_probe=true."""
    return bool(request.param)


@pytest.fixture(scope="module")
def collector(probing: bool, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    env = {"CC_ANALYTICS_OTLP_GRPC_BDP_PROBE": "true"} if probing else {}
    data_dir = Path(tmp_path_factory.mktemp("probing" if probing else "default")) / "data"
    yield from running(CollectorProcess(data_dir=data_dir, extra_env=env))


def test_the_grpc_listener_probes_its_windows_only_when_asked(collector: CollectorProcess, probing: bool) -> None:
    frames = export_call(collector.grpc_port, a_large_export())
    trailers = [payload for kind, flags, stream, payload in frames if kind == HEADERS and flags & END_STREAM]
    assert trailers, f"the call ended without trailers: {[kind for kind, *_ in frames]}"
    pings = [payload for kind, flags, _, payload in frames if kind == PING and not flags & ACK]
    if probing:
        assert pings, "otlp.grpc_bdp_probe=true: the server probes the link while data arrives"
    else:
        assert pings == [], f"by default the windows are not tuned, so no probe: {len(pings)} PING(s)"
