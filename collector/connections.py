"""Connection limits of every HTTP listener (OTLP/HTTP, the console and API, /metrics), and of the file budget.

uvicorn on its own waits forever for a request's headers and body, and accepts connections until the
process runs out of file descriptors; then every listener, the store included, stalls. Each listener's
connections here therefore obey:

- a cap on open connections: past it, a new connection closes the oldest one that is waiting for a request
  (a client that connected and said nothing loses to one that is about to speak), else the one whose request
  body has been arriving longest (answered 503 with a retry hint: connections that stall their bodies cannot
  hold every place until their deadline), or, when there is neither, is itself closed at once;
- a header deadline: a connection must deliver a complete request's headers within `header_timeout_s` of
  connecting, or of the first byte of its next request once answered, else it is closed (trickled headers
  included);
- an idle deadline: a kept-alive connection that sends nothing after its answer is closed after
  `limits.keep_alive_seconds` (uvicorn's keep-alive timer). The header deadline does not run while it is idle:
  a client that reuses its connection after a pause (an OTLP exporter every 5 or 60 s) must find it open, since
  a connection the server closes just as the client sends on it loses that request (a reset, not an answer);
- a body deadline and size: a request's body must arrive within `body_timeout_s` and `max_body_bytes`, else
  it is answered 408 / 413 (when nothing was answered yet) and the connection closed.

The applications may answer sooner and better (the OTLP receiver answers its own 408 and 413 in OTLP's
error format); these limits hold for every route whatever the application does.

The caps are sized so that all listeners together stay inside the process's file limit (see
`plan_connections`): the listening sockets keep accepting, and nothing logs "out of file descriptors".
"""

from __future__ import annotations

import asyncio
import logging
import resource
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("cc_analytics.http")

# File descriptors kept for everything that is not a client connection (the store's files, logs, pipes).
RESERVED_FILES = 256
# Connections accepted in one pass of the event loop before any of them is checked against the cap; also
# the listen backlog. Kept small so that one pass cannot overshoot the file budget.
MAX_ACCEPT_BATCH = 128
MIN_CONNECTIONS = 16
EVICTED_RETRY_AFTER_S = b"1"


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    max_connections: int
    header_timeout_s: float
    body_timeout_s: float
    max_body_bytes: int


@dataclass(frozen=True, slots=True)
class ConnectionPlan:
    """How many connections each listener may hold, and its accept batch (listen backlog)."""

    per_listener: int
    backlog: int
    file_limit: int
    clamped: bool


def raise_file_limit() -> int:
    """Raise the soft limit on open files to the hard limit, as systemd advises services that need many
    (its default soft limit is 1024, the hard one far above); returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def plan_connections(requested: int, listeners: int, file_limit: int) -> ConnectionPlan:
    """Per-listener caps that fit `listeners` listeners (each with a transient accept batch) inside
    `file_limit` open files, keeping RESERVED_FILES for the rest of the process."""
    share = max(MIN_CONNECTIONS * 2, (file_limit - RESERVED_FILES) // max(1, listeners))
    backlog = max(MIN_CONNECTIONS, min(MAX_ACCEPT_BATCH, share // 4))
    fitting = max(MIN_CONNECTIONS, share - backlog)
    return ConnectionPlan(
        per_listener=min(requested, fitting),
        backlog=backlog,
        file_limit=file_limit,
        clamped=requested > fitting,
    )


class ListenerState:
    """What one listener's connections share: how many are open, and which wait for a request (oldest first)."""

    def __init__(self, name: str, limits: ConnectionLimits) -> None:
        self.name = name
        self.limits = limits
        self.open = 0
        self.waiting: dict[GuardedH11Protocol, None] = {}  # insertion order = oldest first
        self.receiving: dict[GuardedH11Protocol, None] = {}  # bodies being received, oldest first
        self.closed: dict[str, int] = {}  # reason → connections closed by a limit

    def count(self, reason: str) -> None:
        self.closed[reason] = self.closed.get(reason, 0) + 1


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the limits above. One subclass per listener (`protocol_for`)."""

    listener: ListenerState

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._deadline_kind = ""
        self._counted = False
        self._body_bytes = 0

    # --- asyncio.Protocol ------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        state = self.listener
        state.open += 1
        self._counted = True
        if state.open > state.limits.max_connections and not (self._evict_waiting() or self._evict_receiving()):
            self._close("connection_cap", logging.WARNING)
            return
        self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._forget()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return  # closed by a limit: whatever still arrives is dropped unread
        cycle = self.cycle
        super().data_received(data)
        self._after_events(cycle, len(data))

    def on_response_complete(self) -> None:
        cycle = self.cycle
        super().on_response_complete()
        self._after_events(cycle, 0)

    # --- the limits ------------------------------------------------------------------------------------------

    def _after_events(self, previous_cycle: Any, received: int) -> None:
        if self.transport.is_closing():
            return
        if self.cycle is not previous_cycle:
            self._request_started()
        elif self.conn.their_state is h11.SEND_BODY:
            self._body_bytes += received
            if self._body_bytes > self.listener.limits.max_body_bytes:
                self._answer_and_close(413, "too_large", "request body over the size limit")
                return
        if self.conn.their_state is not h11.SEND_BODY and self._deadline_is("body"):
            self._disarm()  # the body is complete: what follows is the application's to answer
            self.listener.receiving.pop(self, None)
        if self.conn.their_state is h11.IDLE and (self.cycle is None or self.cycle.response_complete):
            if received or self.conn.trailing_data[0]:
                # The first bytes of the next request (sent now, or pipelined behind the last one): its
                # headers are now due.
                self._await_headers()
            else:
                self._await_request()  # answered: idle until the next request, within the keep-alive time

    def _request_started(self) -> None:
        self.listener.waiting.pop(self, None)
        self._disarm()
        self._body_bytes = 0
        if self.conn.their_state is h11.SEND_BODY:
            self._arm("body", self.listener.limits.body_timeout_s, self._body_late)
            self.listener.receiving[self] = None

    def _await_headers(self) -> None:
        """Headers are due within the header deadline, counted from the first call (connecting, or the first
        bytes of a request on an idle kept-alive connection), not moved by later bytes."""
        self.listener.waiting[self] = None
        if not self._deadline_is("header"):
            self._arm("header", self.listener.limits.header_timeout_s, self._headers_late)

    def _await_request(self) -> None:
        """Answered and kept alive: evictable while it waits (the oldest first), and closed by uvicorn's
        keep-alive timer if nothing comes; no header deadline until the next request starts."""
        self.listener.waiting[self] = None
        self._disarm()

    def _headers_late(self) -> None:
        self._close("header_timeout", logging.INFO)

    def _body_late(self) -> None:
        if self.conn.their_state is h11.SEND_BODY:
            self._answer_and_close(408, "body_timeout", "request body not received in time")

    def _evict_waiting(self) -> bool:
        victim = next(iter(self.listener.waiting), None)
        if victim is None:
            return False
        victim._close("evicted_idle", logging.INFO)
        return True

    def _evict_receiving(self) -> bool:
        victim = next(iter(self.listener.receiving), None)
        if victim is None:
            return False
        message = "request body not received before a new connection needed its place; retry"
        victim._answer_and_close(503, "evicted_body", message, [(b"retry-after", EVICTED_RETRY_AFTER_S)])
        return True

    def _answer_and_close(
        self, status: int, reason: str, message: str, extra: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        """Answer `status` when the application has not answered yet, then close; the application then sees
        its client gone (its reads end, its answer is dropped)."""
        cycle = self.cycle
        if cycle is not None and not cycle.response_started and self.conn.our_state is h11.SEND_RESPONSE:
            cycle.response_started = cycle.response_complete = True
            try:
                headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close"), *(extra or [])]
                output = self.conn.send(h11.Response(status_code=status, headers=headers))
                output += self.conn.send(h11.Data(data=message.encode()))
                output += self.conn.send(h11.EndOfMessage())
                self.transport.write(output)
            except h11.LocalProtocolError:
                pass
        self._close(reason, logging.WARNING)

    def _close(self, reason: str, level: int) -> None:
        state = self.listener
        state.count(reason)
        log.log(
            level,
            "http.connection_closed",
            extra={"fields": {"listener": state.name, "reason": reason, "open": state.open}},
        )
        if self.cycle is not None:  # the application's reads end and its answer, if any, is dropped
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self._forget()
        self.transport.close()

    def _forget(self) -> None:
        self._disarm()
        self.listener.waiting.pop(self, None)
        self.listener.receiving.pop(self, None)
        if self._counted:
            self._counted = False
            self.listener.open -= 1

    # --- one timer per connection -----------------------------------------------------------------------------

    def _arm(self, kind: str, seconds: float, callback: Any) -> None:
        self._disarm()
        self._deadline_kind = kind
        self._deadline = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
            self._deadline_kind = ""

    def _deadline_is(self, kind: str) -> bool:
        return self._deadline is not None and self._deadline_kind == kind


def protocol_for(name: str, limits: ConnectionLimits) -> type[GuardedH11Protocol]:
    """The protocol class of one listener (pass it as uvicorn.Config(http=...))."""
    state = ListenerState(name, limits)
    return type(f"Guarded{name.title().replace('_', '')}Protocol", (GuardedH11Protocol,), {"listener": state})
