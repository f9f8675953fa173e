"""grpcio's own CPU per call: a bare `grpc.aio` server answering an empty message, with nothing of the collector.

The direct clients' capacity is CPU per request; this is the part of it no code of ours can cut. A server process
(`python -m bench.grpc_floor serve PORT`) takes unary calls of a body like a Claude Code export's size; a sender
process (`python -m bench.grpc_floor send …`) makes them at a fixed rate (open loop) over many channels, as
directly connected developers do; the server's CPU seconds over the calls it answered give its cost per call.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from typing import Any

import grpc

from bench.common import tree_cpu_s

METHOD = "/bench.Floor/Export"
BODY_BYTES = 600  # about a Claude Code metrics export's protobuf body


async def _serve(port: int) -> None:
    async def export(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        context.invocation_metadata()  # read as the receiver reads its token
        return b""

    server = grpc.aio.server()
    handler: grpc.RpcMethodHandler[bytes, bytes] = grpc.unary_unary_rpc_method_handler(export)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("bench.Floor", {"Export": handler}),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print("ready", flush=True)
    await server.wait_for_termination()


async def _send(port: int, calls: int, rate: float, channels: int) -> None:
    """Open loop: call i starts at i / rate, on channel i mod `channels`. Prints the seconds the calls took."""
    opened = [grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)])
              for _ in range(channels)]  # fmt: skip
    stubs: list[grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]] = [channel.unary_unary(METHOD) for channel in opened]
    body = b"x" * BODY_BYTES
    metadata = (("authorization", "Bearer bench"),)
    for stub in stubs:  # every connection open before the clock starts
        await stub(body, metadata=metadata)
    print("connected", flush=True)
    sys.stdin.readline()  # the parent reads the server's CPU, then says go
    began = time.perf_counter()

    async def one(index: int) -> None:
        delay = began + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await stubs[index % channels](body, metadata=metadata, timeout=30)

    await asyncio.gather(*(one(index) for index in range(calls)))
    print(f"{time.perf_counter() - began:.3f}", flush=True)
    for channel in opened:
        await channel.close()


def grpc_floor(port: int, calls: int = 8000, rate: float = 800.0, channels: int = 200) -> dict[str, Any]:
    """{calls, rate, channels, seconds, server_cpu_s, cpu_per_call_us}: the bare server's CPU per call."""
    serve = [sys.executable, "-m", "bench.grpc_floor", "serve", str(port)]
    send = [sys.executable, "-m", "bench.grpc_floor", "send", str(port), str(calls), str(rate), str(channels)]
    with subprocess.Popen(serve, stdout=subprocess.PIPE, text=True) as server:
        try:
            assert server.stdout is not None  # stdout=PIPE
            if server.stdout.readline().strip() != "ready":
                raise RuntimeError("the floor's gRPC server did not start")
            with subprocess.Popen(send, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as sender:
                assert sender.stdin is not None and sender.stdout is not None  # stdin=PIPE, stdout=PIPE
                if sender.stdout.readline().strip() != "connected":
                    raise RuntimeError("the floor's sender could not open its channels")
                before = tree_cpu_s([server.pid])
                sender.stdin.write("go\n")
                sender.stdin.flush()
                seconds = float(sender.stdout.readline())
                server_cpu_s = tree_cpu_s([server.pid]) - before
                sender.stdin.close()
                if sender.wait(timeout=60) != 0:
                    raise RuntimeError("floor sender failed")
        finally:
            server.kill()
    return {
        "calls": calls,
        "rate": rate,
        "channels": channels,
        "seconds": seconds,
        "server_cpu_s": server_cpu_s,
        "cpu_per_call_us": server_cpu_s / calls * 1e6,
    }


def main(argv: list[str]) -> None:
    if argv[:1] == ["serve"]:
        asyncio.run(_serve(int(argv[1])))
    elif argv[:1] == ["send"]:
        asyncio.run(_send(int(argv[1]), int(argv[2]), float(argv[3]), int(argv[4])))
    else:
        raise SystemExit("usage: python -m bench.grpc_floor serve PORT | send PORT CALLS RATE CHANNELS")


if __name__ == "__main__":
    main(sys.argv[1:])
