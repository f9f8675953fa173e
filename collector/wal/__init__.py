"""The durable queue (queue.mode=wal): requests are acknowledged once appended to a write-ahead log under
<data_dir>/wal/, and drained into the store from it (collector/README.md, Durable queue)."""

from collector.wal.config import OPTIONS, QueueConfig
from collector.wal.consumer import QueuedConsumer, QueueStats
from collector.wal.recovery import UnknownFormat

__all__ = ["OPTIONS", "QueueConfig", "QueueStats", "QueuedConsumer", "UnknownFormat"]
