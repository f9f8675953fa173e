"""Each collector process, once started, collects young objects every YOUNG_THRESHOLD allocations and leaves
what start-up made out of the collector's passes (collector/heap.py); cycles are still freed. Measured in a fresh
process, so that this test's own interpreter keeps Python's defaults."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from collector.heap import YOUNG_THRESHOLD

ROOT = Path(__file__).resolve().parents[2]

SETTLED = """
import gc, json, weakref
from collector import heap

made_at_start = [{"n": n} for n in range(1_000)]
heap.settle("test")

class Node:
    pass

def cycle():
    node = Node()
    node.self = node  # freed only by the cyclic collector
    node.payload = bytearray(1 << 20)
    return weakref.ref(node)

collected = []
gc.callbacks.append(lambda phase, info: collected.append(info["generation"]) if phase == "stop" else None)

freed_cycle = cycle()
young = [[] for _ in range(%(fewer)d)]  # fewer allocations than the threshold: no pass yet
before_pass = freed_cycle() is not None
young += [[] for _ in range(%(more)d)]  # past it: the young pass frees the cycle
print(json.dumps({
    "threshold": gc.get_threshold(),
    "frozen": gc.get_freeze_count(),
    "cycle_alive_before_the_pass": before_pass,
    "cycle_alive_after_it": freed_cycle() is not None,
    "passes": collected,
}))
"""


def run_settled() -> dict:
    code = SETTLED % {"fewer": YOUNG_THRESHOLD // 2, "more": YOUNG_THRESHOLD}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_settled_process_passes_over_young_objects_every_young_threshold_allocations_and_still_frees_cycles() -> None:
    result = run_settled()
    assert result["threshold"] == [YOUNG_THRESHOLD, 10, 10]
    # Start-up's objects (the modules, the 1 000 dicts made before) are out of the passes' reach.
    assert result["frozen"] > 1_000
    # Python's default (700) would have passed over the young objects ~70 times by then.
    assert result["cycle_alive_before_the_pass"] is True
    assert result["cycle_alive_after_it"] is False
    assert result["passes"] == [0]
