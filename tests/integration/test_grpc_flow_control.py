"""The gRPC listener's HTTP/2 receive windows. Each call starts with a window of 16 KiB (what a call not yet read
can have sent, so what a waiting or refused call holds), and a larger message completes as the window opens to
it once read. otlp.grpc_bdp_probe: the listener widens its windows (probing the link with PING frames) only when
the operator turns it on.

Spoken as raw HTTP/2 frames, the way a client's transport sees the server, flow control followed as a client's
transport follows it: the PING frames a server sends while data arrives are the probes of its window tuning
(keepalive pings start only after 2 hours)."""

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
DATA, HEADERS, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = 0, 1, 4, 6, 7, 8
INITIAL_WINDOW_SIZE = 0x4  # the SETTINGS parameter (RFC 9113, 6.5.2)
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


def settings_of(payload: bytes) -> dict[int, int]:
    return {
        int.from_bytes(payload[at : at + 2], "big"): int.from_bytes(payload[at + 2 : at + 6], "big")
        for at in range(0, len(payload), 6)
    }


def export_call(port: int, message: bytes) -> list[tuple[int, int, int, bytes]]:
    """One Export call on a fresh connection; every frame the server sent until the call's end (trailers with
    END_STREAM, or a GOAWAY). The server's SETTINGS and PINGs are answered and its windows kept to: DATA is sent
    while the stream's and the connection's windows allow, over time as from a real link."""
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
    received = []
    windows = {0: 65_535, 1: 65_535}  # the connection's and the stream's, as HTTP/2 starts them
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(PREFACE + frame(SETTINGS, 0, 0))
        sock.sendall(frame(HEADERS, END_HEADERS, 1, headers))
        while True:
            size = min(16_384, len(body) - sent, windows[0], windows[1])  # 16 384: SETTINGS_MAX_FRAME_SIZE's default
            if size > 0 and any(kind == SETTINGS for kind, *_ in received):
                last = sent + size == len(body)
                sock.sendall(frame(DATA, END_STREAM if last else 0, 1, body[sent : sent + size]))
                sent += size
                windows[0] -= size
                windows[1] -= size
                time.sleep(0.05)
                continue
            kind, flags, stream, payload = read_frame(sock)
            received.append((kind, flags, stream, payload))
            if kind == SETTINGS and not flags & ACK:
                # A new initial window changes the stream's by the difference (RFC 9113, 6.9.2).
                initial = settings_of(payload).get(INITIAL_WINDOW_SIZE)
                if initial is not None:
                    windows[1] += initial - 65_535
                sock.sendall(frame(SETTINGS, ACK, 0))
            elif kind == WINDOW_UPDATE:
                windows[stream] = windows.get(stream, 0) + (int.from_bytes(payload, "big") & 0x7FFFFFFF)
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


def test_a_call_starts_with_a_window_of_16_kib_and_a_larger_message_completes(
    collector: CollectorProcess, probing: bool
) -> None:
    frames = export_call(collector.grpc_port, a_large_export())
    trailers = [payload for kind, flags, stream, payload in frames if kind == HEADERS and flags & END_STREAM]
    assert trailers and b"grpc-status" in trailers[0] and b"\x010" in trailers[0], trailers
    if not probing:  # with probing the window is what the link measured
        [announced] = [
            settings_of(payload) for kind, flags, _, payload in frames if kind == SETTINGS and not flags & ACK
        ]
        assert announced[INITIAL_WINDOW_SIZE] == 16_384
        # The 60 KB message went through as the server opened the stream's window to it.
        assert any(kind == WINDOW_UPDATE and stream == 1 for kind, _, stream, _ in frames)
