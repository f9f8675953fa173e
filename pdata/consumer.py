"""The contract between a receiver and what it feeds: `consume` a batch, get a future of the outcome.

The future resolves only once the batch is durable (or recognised as a duplicate of one that is);
only then may the receiver acknowledge the request.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol

from pdata.model import Batch


@dataclass(frozen=True, slots=True)
class ConsumeResult:
    duplicate: bool = False
    stale_points: int = 0


class Overloaded(Exception):
    """Too much is queued: the sender should retry after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Unavailable(Exception):
    """The store could not take the write (unreachable, overloaded, stopping): nothing was kept, the sender
    should retry after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: int = 5) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Refused(Exception):
    """The store answered and refused the batch's data (a value it cannot take, a constraint, the schema):
    nothing of it was kept, and the same request would be refused again, so the sender must not retry it."""


class Consumer(Protocol):
    def consume(self, batch: Batch) -> Future[ConsumeResult]: ...
