"""Components are started in order and shut down in reverse: what was started last (the listeners) stops
first, so that nothing is taken in once the writer, the exporter and the store behind it are closing."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger("cc_analytics.collector")


async def _nothing() -> None:
    return None


def inline(call: Callable[[], object]) -> Callable[[], Awaitable[None]]:
    """A blocking start or shutdown run on the event loop itself, between the others (quick calls only)."""

    async def run() -> None:
        call()

    return run


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    shutdown: Callable[[], Awaitable[None]]
    start: Callable[[], Awaitable[None]] = _nothing


class Lifecycle:
    """The components started so far, for `shutdown` to stop in reverse order."""

    def __init__(self) -> None:
        self._started: list[Component] = []

    async def start(self, component: Component) -> None:
        await component.start()
        self._started.append(component)

    async def shutdown(self) -> None:
        """Every started component's shutdown, last started first; one that fails does not keep the others
        from closing (the store still closes, the journals are still written); the first failure is raised."""
        failure: BaseException | None = None
        while self._started:
            component = self._started.pop()
            try:
                await component.shutdown()
            except Exception as exc:
                log.exception("component.shutdown_failed", extra={"fields": {"component": component.name}})
                failure = failure or exc
        if failure is not None:
            raise failure
