"""Past limits.max_concurrent_rpcs calls in progress, the OTLP/gRPC receiver refuses with RESOURCE_EXHAUSTED
and RetryInfo, which OTLP clients retry; grpcio's own refusal (without RetryInfo) would make them drop the data.

The receiver's real gRPC server runs in-process; its consumer holds every batch until the test lets them go,
as a store that is slow to commit would (a fault the real store cannot be made to show on demand).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Future

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from pdata import Batch
from pdata.consumer import ConsumeResult
from receiver.otlp.auth import TokenAuth
from receiver.otlp.config import OtlpReceiverConfig
from receiver.otlp.grpc_server import create_otlp_grpc_server
from receiver.otlp.observer import LoggingObserver
from tests.support import otlp_raw as otlp
from tests.support.children import free_port

MAX_CALLS = 4


class HeldConsumer:
    def __init__(self) -> None:
        self.held: list[Future[ConsumeResult]] = []

    def consume(self, batch: Batch) -> Future[ConsumeResult]:
        future: Future[ConsumeResult] = Future()
        self.held.append(future)
        return future

    def release(self) -> None:
        for future in self.held:
            if not future.done():
                future.set_result(ConsumeResult())


async def _wait_until_held(consumer: HeldConsumer, count: int, calls: Sequence[asyncio.Future[grpc.aio.Call]]) -> None:
    # A loaded machine can take seconds to connect and start each call; a call that ends before its batch is
    # held has failed, and its own error says why.
    deadline = asyncio.get_running_loop().time() + 60
    while len(consumer.held) < count and asyncio.get_running_loop().time() < deadline:
        for call in calls:
            if call.done():
                call.result()
                raise AssertionError("a call was answered before the consumer let its batch go")
        await asyncio.sleep(0.05)
    assert len(consumer.held) == count


async def _export(target: str, body: bytes) -> grpc.aio.Call:
    # A channel of its own per call, as separate clients would.
    async with grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
        call = channel.unary_unary(otlp.GRPC_METHODS["metrics"], request_serializer=None, response_deserializer=None)
        return await call(body, timeout=30)


def test_calls_past_the_cap_are_refused_with_a_retry_hint_and_the_held_ones_complete() -> None:
    async def scenario() -> None:
        port = free_port()
        config = OtlpReceiverConfig(
            bind="127.0.0.1", grpc_port=port, max_concurrent_rpcs=MAX_CALLS, max_calls_per_peer=0
        )
        consumer = HeldConsumer()
        server = create_otlp_grpc_server(config, TokenAuth.open(), consumer, LoggingObserver())
        await server.start()
        target = f"127.0.0.1:{port}"
        try:
            bodies = [otlp.to_protobuf(otlp.edit_request("org-cap", lines=n + 1, session=f"s{n}")) for n in range(5)]
            held = [asyncio.ensure_future(_export(target, body)) for body in bodies[:MAX_CALLS]]
            await _wait_until_held(consumer, MAX_CALLS, held)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await _export(target, bodies[MAX_CALLS])
            error = refused.value
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "limits.max_concurrent_rpcs" in (error.details() or "")
            trailers = dict(error.trailing_metadata() or ())
            assert trailers.get("retry-after") == "1"
            status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
            info = error_details_pb2.RetryInfo()
            assert status.details[0].Unpack(info) and info.retry_delay.seconds == 1
            consumer.release()
            answers = await asyncio.gather(*held)
            assert len(answers) == MAX_CALLS  # every held call is answered once its batch is kept
            # With the slots free again, the refused export goes through on its retry.
            retry = asyncio.ensure_future(_export(target, bodies[MAX_CALLS]))
            await _wait_until_held(consumer, MAX_CALLS + 1, [retry])
            consumer.release()
            await retry
        finally:
            await server.stop(grace=None)

    asyncio.run(scenario())
