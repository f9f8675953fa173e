"""What the components ask of the store, as protocols: the writer, the named queries, the shared-state lookups.

The receiver, the processors, the collector's pipeline, the exporters' readers and the console are typed
against these, so none of them depends on the store's implementation (exporters/clickhouse); only the
composition root (collector/app.py) creates the store. The errors a store raises live here for the same
reason: a caller catches them without importing the store.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pdata.model import EventFact, PointFact

# A named query's parameters, bound server-side by name (`{name:Type}` in its SQL).
QueryParameters = dict[str, Any]
# Of the cumulative series stored since a time: (series_key, start_ns, raw cumulative value, time_ns, received_ns).
StoredSeriesRow = tuple[int, int, float, int, int]


class StoreUnavailable(RuntimeError):
    """The store could not be reached or refused a write; nothing of that write was acknowledged."""


class StoreRefused(RuntimeError):
    """The store answered and refused the rows of a write (a value, a constraint, the schema): nothing of that
    write was kept, and the same rows would be refused again. `reason` is the store's own words."""

    def __init__(self, message: str, reason: str, code: int | None) -> None:
        super().__init__(message)
        self.reason = reason
        self.code = code


class QueryFailed(RuntimeError):
    """The store answered, but refused the query (a bug or a parameter it cannot take): not an outage."""


@dataclass(frozen=True, slots=True)
class PreparedFacts:
    """One group's facts, and the store's own serialized form of them (`payload`), ready to be sent."""

    points: Sequence[PointFact]
    events: Sequence[EventFact]
    payload: Any = None


class FactWriter(Protocol):
    """Where the pipeline writes each committed group: the store itself, or a wrapper that times or gates it."""

    def prepare(self, points: Sequence[PointFact], events: Sequence[EventFact]) -> PreparedFacts:
        """Serialize one group of facts for `write_prepared`, without sending anything (CPU work the writer does
        while the store is busy with the insert before). Raises as `write_prepared` does."""
        ...

    def write_prepared(self, prepared: PreparedFacts) -> None:
        """Insert what `prepare` made; raises StoreUnavailable (retryable) or StoreRefused (these rows never will
        be taken), and the caller acknowledges only on return."""
        ...

    def ping(self) -> bool:
        """Whether the store answers now (a failed group is written again batch by batch only if it does)."""
        ...

    def kept_any(self, prepared: PreparedFacts) -> bool:
        """Whether the store holds any of `prepared`'s rows: an insert that failed may have been kept in part.
        Raises StoreUnavailable or QueryFailed when it cannot say."""
        ...

    def forget_failed_insert(self) -> None:
        """The insert that just failed is answered as failed with none of its rows stored: nothing of it is to be
        completed later (e.g. at the next start, from the store's insert journal)."""
        ...


class NamedQueries(Protocol):
    """The read side: a query is asked by the name of its SQL, which the store owns, with bound parameters.
    Both raise StoreUnavailable when the store cannot answer and QueryFailed when it refuses the query."""

    def query(self, name: str, parameters: QueryParameters) -> list[tuple[Any, ...]]:
        """The rows of the named query, as tuples in its column order."""
        ...

    def query_named(self, name: str, parameters: QueryParameters) -> list[dict[str, Any]]:
        """The rows of the named query, each a dict keyed by column name."""
        ...


class SharedStateLookups(Protocol):
    """What the processors' state is seeded from at start-up, and checked against per group when replicas share
    the store (`dedup.shared`): the request digests and the cumulative series other collectors committed."""

    def cumulative_series_state(self, since_ns: int) -> Iterable[StoredSeriesRow]:
        """The last stored point of each cumulative series that arrived since `since_ns`, most recent first."""
        ...

    def recent_request_digests(self, since_ns: int) -> Iterable[tuple[bytes, int]]:
        """(digest, received_ns) of every request committed since `since_ns`."""
        ...

    def stored_request_digests(self, digests: Collection[bytes], since_ns: int) -> dict[bytes, int]:
        """Of `digests`, those of requests committed since `since_ns` (by any collector), with their arrival."""
        ...

    def stored_series_state(self, keys: Collection[int], since_ns: int) -> dict[int, tuple[int, float, int, int]]:
        """Of the series `keys`, those stored since `since_ns`: key → (start_ns, raw cumulative value, time_ns,
        received_ns) of the last stored point."""
        ...
