"""The receiver's flattening of real Claude Code requests, against golden files in receiver/otlp/testdata/.

Regenerate after an intended change with: CC_ANALYTICS_UPDATE_GOLDEN=1 make test
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from pdata import Sender
from receiver.otlp.ingest import decode

TESTDATA = Path(__file__).resolve().parents[2] / "receiver" / "otlp" / "testdata"


@pytest.mark.parametrize("signal", ["metrics", "logs"])
def test_flattening_matches_golden(signal: str) -> None:
    request = TESTDATA / f"claude-code-2.1.331-{signal}.json"
    batch = decode(signal, request.read_bytes(), "json", Sender()).batch
    assert batch is not None and batch.rejected == 0
    items = batch.points if signal == "metrics" else batch.events
    flattened = [dataclasses.asdict(item) for item in items]
    golden = TESTDATA / f"claude-code-2.1.331-{signal}.flattened.json"
    if os.environ.get("CC_ANALYTICS_UPDATE_GOLDEN") == "1":
        golden.write_text(json.dumps(flattened, indent=1, sort_keys=True) + "\n")
    assert flattened == json.loads(golden.read_text())
