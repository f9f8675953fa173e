"""The cyclic garbage collector, set for a collector process once it has started (the writer and each receiver
process).

Python frees an object when its last reference goes; the cyclic collector is only for objects in reference
cycles, which the collector's hot paths do not make (an insert's columns are let go of explicitly:
exporters/clickhouse/store.py `_native_body`). Python's default schedule runs a young-generation pass every 700
allocations and traverses every object still alive at that moment: a drain group's batches, facts and columns
(~100 000 objects for 20 000 points and records) and a receiver's decoded requests were traversed again and
again, 7–9 % of each busy process's CPU at the gateway's rate, for cycles that hardly exist (bench/README.md,
"The cyclic garbage collector"). So, once started:

- what start-up made (modules, the configuration, the restored state) is moved out of the collector's reach
  (`gc.freeze()`): a full pass no longer traverses it;
- a young-generation pass runs every YOUNG_THRESHOLD allocations instead of 700: the cycles that do occur (a
  gRPC call's handler details, an asyncio future's callbacks) are small, so what waits for the next pass is
  small too.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger("cc_analytics.memory")

YOUNG_THRESHOLD = 100_000
# Python's own ratios for the older generations: a middle pass every 10 young ones, a full pass every 10 middle
# ones (and only once the objects that survived since the last full pass are a quarter of the older ones).
MIDDLE_THRESHOLD = 10
OLD_THRESHOLD = 10


def settle(process: str) -> None:
    """Called once `process` has started: collect what start-up left, freeze what survives, and collect young
    objects every YOUNG_THRESHOLD allocations from here on."""
    unreachable = gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
    log.info(
        "memory.heap_settled",
        extra={
            "fields": {
                "process": process,
                "frozen_objects": gc.get_freeze_count(),
                "start_up_garbage": unreachable,
                "young_threshold": YOUNG_THRESHOLD,
            }
        },
    )
