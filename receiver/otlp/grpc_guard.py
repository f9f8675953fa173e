"""What the OTLP/gRPC server checks when a call starts, before its message is read.

grpcio reads a unary call's message before it runs the handler, and counts the call against
`maximum_concurrent_rpcs` from the moment it starts: calls that send headers and then never their message
held every slot, whatever their token. So each unary Export is served here as a client-streaming call
(the same bytes on the wire, a unary client sees no difference), which lets it:

1. refuse a missing or unknown ingest token from the call's metadata at once (UNAUTHENTICATED);
2. refuse a call past `max_calls` (limits.max_concurrent_rpcs) calls in progress, or past
   `max_calls_per_peer` on the same client connection, at once (RESOURCE_EXHAUSTED with a retry hint: OTLP
   clients retry RESOURCE_EXHAUSTED only with one, so grpcio's own cap, which answers without it, is set above);
3. read the one message within `body_timeout_s` (else DEADLINE_EXCEEDED), then run the unary handler.

A client may open many connections, so the calls still waiting for their message are also capped across all
connections (`max_waiting_calls`, half of the call slots): past it, the call that has waited longest gives way
(RESOURCE_EXHAUSTED with a retry hint). A real export sends its message as it starts, so it is never the
longest waiting; calls that stall take at most that many slots, and the rest stay free for everyone else.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import OrderedDict
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


class WaitingCalls:
    """Calls started and still waiting for their message, longest waiting first. Entering past `limit` makes
    the longest waiting one give way: its `evicted` future is resolved (0: no cap)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._waiting: OrderedDict[int, asyncio.Future[None]] = OrderedDict()
        self._keys = itertools.count()

    def enter(self) -> tuple[int, asyncio.Future[None]]:
        """(key for `leave`, a future resolved if this call must give way to newer ones)."""
        if self.limit and len(self._waiting) >= self.limit:
            _, longest = self._waiting.popitem(last=False)
            if not longest.done():
                longest.set_result(None)
        key = next(self._keys)
        evicted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[key] = evicted
        return key, evicted

    def leave(self, key: int) -> None:
        self._waiting.pop(key, None)

    def __len__(self) -> int:
        return len(self._waiting)


class CallGuard(grpc.aio.ServerInterceptor):
    """Wraps every unary handler of `signals` (method path → signal) with the checks above."""

    def __init__(
        self,
        auth: TokenAuth,
        observer: IngestObserver,
        signals: Mapping[str, str],
        max_calls_per_peer: int,
        message_timeout_s: float,
        max_waiting_calls: int = 0,
        max_calls: int = 0,
    ) -> None:
        self._auth = auth
        self._observer = observer
        self._signals = signals
        self._message_timeout_s = message_timeout_s
        self.peers = PeerCalls(max_calls_per_peer)
        self.waiting = WaitingCalls(max_waiting_calls)
        self.max_calls = max_calls
        self.in_progress = 0

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
            if self.max_calls and self.in_progress >= self.max_calls:
                reason = (
                    f"{self.max_calls} calls are already in progress (limits.max_concurrent_rpcs); "
                    f"retry after {PEER_RETRY_AFTER_S} s"
                )
                await self._refuse(context, signal, Refusal("overloaded", reason, PEER_RETRY_AFTER_S), started)
            self.in_progress += 1
            try:
                return await self._served(signal, behavior, context, started)
            finally:
                self.in_progress -= 1

        return guarded

    async def _served(
        self, signal: str, behavior: UnaryBehavior, context: grpc.aio.ServicerContext, started: float
    ) -> bytes:
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

    async def _read_message(self, signal: str, context: grpc.aio.ServicerContext, started: float) -> bytes:
        key, evicted = self.waiting.enter()
        reading = asyncio.ensure_future(context.read())
        try:
            done, _ = await asyncio.wait(
                (reading, evicted), timeout=self._message_timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            self.waiting.leave(key)
            if not reading.done():  # timed out, evicted, or the call itself was cancelled
                reading.cancel()
        if reading not in done:
            if evicted in done:
                reason = (
                    f"request message not received while {self.waiting.limit} other calls waited for theirs; "
                    f"retry after {PEER_RETRY_AFTER_S} s"
                )
                await self._refuse(context, signal, Refusal("overloaded", reason, PEER_RETRY_AFTER_S), started)
            reason = f"request message not received within {self._message_timeout_s:g} s"
            await self._refuse(context, signal, Refusal("body_timeout", reason), started)
        message = reading.result()
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
