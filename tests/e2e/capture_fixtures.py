"""Regenerate tests/fixtures/cc-<version>-*.jsonl by running the real CLI against the capture sink.

/work/main/.venv/bin/python tests/e2e/capture_fixtures.py [--out tests/fixtures]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from claude_cli import CLAUDE_CODE_VERSION, find_or_install_claude, run_claude  # noqa: E402
from otlp_capture import otlp_capture, summarize  # noqa: E402

TOKEN = "ingest-test-token"  # dummy ingest token; the only Authorization value in the fixtures
RUNS = [
    ("grpc", "acceptEdits", "grpc-acceptedits"),
    ("http/protobuf", "acceptEdits", "http-protobuf-acceptedits"),
    ("http/json", "acceptEdits", "http-json-acceptedits"),
    ("http/json", "default", "http-json-default-mode"),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=HERE.parent / "fixtures")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    binary = find_or_install_claude()
    for protocol, mode, label in RUNS:
        with otlp_capture() as cap:
            run = run_claude(protocol, cap.endpoint_for(protocol), TOKEN, permission_mode=mode, binary=binary)
            cap.wait_for(lambda r: {"/v1/metrics", "/v1/logs"} <= {x["path"] for x in r}, timeout=10)
            records = cap.snapshot()
        path = args.out / f"cc-{CLAUDE_CODE_VERSION}-{label}.jsonl"
        with open(path, "w") as f:
            for r in records:
                f.write(json.dumps(r) + "\n")
        print(
            f"{path.name}: exit={run.exit_code} cost={run.cost} main_replies={run.main_replies} "
            f"api_requests={[r['path'] for r in run.requests]}"
        )
        print("   ", json.dumps(summarize(records).as_dict()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
