"""What the OTLP/gRPC server checks when a call starts, before its message is read.

grpcio reads a unary call's message before it runs the handler, and counts the call against
`maximum_concurrent_rpcs` from the moment it starts: calls that send headers and then never their message
held every slot, whatever their token. So each unary Export is served here as a client-streaming call
(the same bytes on the wire, a unary client sees no difference), which lets it:

1. refuse a missing or unknown ingest token from the call's metadata at once (UNAUTHENTICATED);
2. refuse a call past `max_calls_per_peer` calls in progress on the same client connection at once
   (RESOURCE_EXHAUSTED with a retry hint), so one client cannot take every slot;
3. read the one message within `body_timeout_s` (else DEADLINE_EXCEEDED), then run the unary handler.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import grpc

from receiver.otlp.auth import TokenAuth, Unauthenticated
from receiver.otlp.observer import IngestObserver
from receiver.otlp.refusals import Refusal, grpc_trailers

# The context is grpc.aio's: grpcio's stubs type a handler's behaviour with the synchronous context.
UnaryBehavior = Callable[[bytes, Any], Awaitable[bytes]]
PEER_RETRY_AFTER_S = 1


def authorization(metadata: Iterable[tuple[str, str | bytes]] | None) -> str | None:
    """The call's `authorization` metadata; only `-bin` keys carry bytes, so any other value is no token."""
    value = dict(metadata or ()).get("authorization")
    return value if isinstance(value, str) else None


class PeerCalls:
    """Calls in progress per peer (grpcio's peer string: one client connection's address and port)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._calls: dict[str, int] = {}

    def take(self, peer: str) -> bool:
        calls = self._calls.get(peer, 0)
        if self.limit and calls >= self.limit:
            return False
        self._calls[peer] = calls + 1
        return True

    def give_back(self, peer: str) -> None:
        calls = self._calls.get(peer, 0) - 1
        if calls > 0:
            self._calls[peer] = calls
        else:
            self._calls.pop(peer, None)

    def __len__(self) -> int:
        return sum(self._calls.values())


class CallGuard(grpc.aio.ServerInterceptor):
    """Wraps every unary handler of `signals` (method path → signal) with the checks above."""

    def __init__(
        self,
        auth: TokenAuth,
        observer: IngestObserver,
        signals: Mapping[str, str],
        max_calls_per_peer: int,
        message_timeout_s: float,
    ) -> None:
        self._auth = auth
        self._observer = observer
        self._signals = signals
        self._message_timeout_s = message_timeout_s
        self.peers = PeerCalls(max_calls_per_peer)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(details)
        signal = self._signals.get(details.method)
        if handler is None or signal is None or handler.request_streaming or handler.response_streaming:
            return handler
        behavior = handler.unary_unary
        if behavior is None:
            return handler
        try:
            self._auth.authenticate(authorization(details.invocation_metadata))
        except Unauthenticated as exc:
            return grpc.stream_unary_rpc_method_handler(self._refusal(signal, str(exc)))
        return grpc.stream_unary_rpc_method_handler(self._guarded(signal, behavior))

    def _refusal(self, signal: str, reason: str) -> Callable[[Any, grpc.aio.ServicerContext], Awaitable[bytes]]:
        async def refuse(_requests: Any, context: grpc.aio.ServicerContext) -> bytes:
            await self._refuse(context, signal, Refusal("unauthenticated", reason), 0.0)
            return b""  # not reached: abort raises

        return refuse

    def _guarded(
        self, signal: str, behavior: UnaryBehavior
    ) -> Callable[[Any, grpc.aio.ServicerContext], Awaitable[bytes]]:
        async def guarded(_requests: Any, context: grpc.aio.ServicerContext) -> bytes:
            started = time.perf_counter()
            peer = context.peer() or ""
            if not self.peers.take(peer):
                reason = (
                    f"{self.peers.limit} calls of this connection are already in progress; "
                    f"retry after {PEER_RETRY_AFTER_S} s"
                )
                await self._refuse(context, signal, Refusal("overloaded", reason, PEER_RETRY_AFTER_S), started)
            try:
                message = await self._read_message(signal, context, started)
                return await behavior(message, context)
            finally:
                self.peers.give_back(peer)

        return guarded

    async def _read_message(self, signal: str, context: grpc.aio.ServicerContext, started: float) -> bytes:
        try:
            async with asyncio.timeout(self._message_timeout_s):
                message = await context.read()
        except TimeoutError:
            reason = f"request message not received within {self._message_timeout_s:g} s"
            await self._refuse(context, signal, Refusal("body_timeout", reason), started)
        if message is grpc.aio.EOF:
            await self._refuse(
                context, signal, Refusal("bad_request", "the call ended without a request message"), started
            )
        return message

    async def _refuse(self, context: grpc.aio.ServicerContext, signal: str, refusal: Refusal, started: float) -> None:
        """Report and answer `refusal` (its row of the refusal table); abort raises, ending the call."""
        seconds = time.perf_counter() - started if started else 0.0
        self._observer.request_done("grpc", signal, refusal.answer.status, refusal.reason, 0, 0, seconds)
        await context.abort(refusal.answer.grpc_code, refusal.reason, grpc_trailers(refusal))
