"""What the pipeline's writer (pipeline.py) holds: the batches taken for it, each signal's part of a group with
its insert, and its settings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from pdata import Batch, EventFact, PointFact
from pdata.store import PreparedFacts
from processors.chain import ProcessedGroup

# A batch taken for the writer: the batch, the future its receiver waits on, its size in points + events.
Item = tuple[Batch, Future, int]


def queued_size(item: Item | Write) -> int:
    return item[2] if isinstance(item, tuple) else 0


# Called with each group's facts once they are committed (e.g. the Prometheus exporter's counters).
CommitListener = Callable[[Sequence[PointFact], Sequence[EventFact]], None]


@dataclass(slots=True, eq=False)
class Write:
    """One signal's part of a group, processed and handed to the inserter. It is also put on the writer's queue
    once its insert ended, to wake a writer waiting for more batches."""

    items: list[Item]
    processed: ProcessedGroup
    size: int
    insert: Future[float] = field(default_factory=Future)  # the insert's duration in seconds
    prepared: PreparedFacts | None = None  # what was sent (None: serializing it failed, nothing was sent)

    def clear(self) -> None:
        """Let go of the batches, facts and insert bodies of a write that is answered and committed. The writer
        and the queue it is put on still hold this object while the next group's bodies are made; without this,
        two groups' worth of them would be held at once."""
        self.items = []
        self.processed = ProcessedGroup()
        self.prepared = None


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    max_queued_items: int = 20_000  # points + events waiting for the writer
    max_group_items: int = 50_000  # points + events written in one insert
    linger_s: float = 0.005  # how long the writer waits for more batches to share an insert (at least)
    max_linger_s: float = 0.2  # at most: the writer lingers as long as its last insert took, up to this
