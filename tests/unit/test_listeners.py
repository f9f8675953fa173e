"""The sockets the collector listens on: what a connection accepted from them is set up with."""

from __future__ import annotations

import asyncio
import socket

import pytest

from collector.listeners import listen


async def _accepted_nodelay(host: str) -> int:
    """TCP_NODELAY of the server side of a connection accepted by asyncio from a `listen` socket, as uvicorn
    serves the API, /metrics and OTLP/HTTP."""
    sock = listen(host, 0)
    port = sock.getsockname()[1]
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server_side: socket.socket = writer.get_extra_info("socket")
        accepted.set_result(server_side.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(serve, sock=sock)
    try:
        _, writer = await asyncio.open_connection(host, port)
        nodelay = await asyncio.wait_for(accepted, 10)
        writer.close()
        return nodelay
    finally:
        server.close()
        await server.wait_closed()


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_connections_accepted_from_a_listener_send_without_waiting_for_acks(host: str) -> None:
    # Nagle's algorithm on: an answer written in parts on a kept-alive connection waits for the client's delayed
    # ACK, ~40 ms per API read or /metrics scrape.
    if host == "::1" and not _has_ipv6_loopback():
        pytest.skip("no IPv6 loopback on this machine")
    assert asyncio.run(_accepted_nodelay(host)) != 0
