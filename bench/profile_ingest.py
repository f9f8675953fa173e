"""Profile or size the ingest path: one collector, one loadgen run, the writer's insert figures, optionally py-spy.

python -m bench.profile_ingest http/protobuf client 64            # items/s and inserts (count, time)
python -m bench.profile_ingest grpc gateway 16 --py-spy out.txt   # plus a py-spy raw profile (12 s)
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from bench.common import MEMORY_ENV, pregenerate, start_collector, url_of
from loadgen import run


def main(argv: list[str]) -> int:
    protocol, shape, concurrency = argv[0], argv[1], int(argv[2])
    profile = argv[argv.index("--py-spy") + 1] if "--py-spy" in argv else None
    requests = pregenerate(protocol, shape, 100_000 if shape == "gateway" else 20_000, 5000, seed=3)
    with tempfile.TemporaryDirectory(prefix="cc-profile-") as root:
        collector = start_collector(Path(root), "collector", **MEMORY_ENV)  # one process: the one py-spy reads
        spy = None
        if profile:
            command = [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(collector.process.pid),
                       "--duration", "12", "--format", "raw", "--threads", "--nonblocking", "-o", profile]  # fmt: skip
            spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            result = asyncio.run(run(requests, url=url_of(collector, protocol), protocol=protocol, shape=shape,
                                     concurrency=concurrency, progress=False))  # fmt: skip
            summary = result.summary()
            print(f"{protocol} {shape} {concurrency} in flight: {summary['items_per_s']:,} items/s, "
                  f"{summary['requests_per_s']:,} req/s, p50 {summary['latency_p50_ms']} ms, "
                  f"p99 {summary['latency_p99_ms']} ms")  # fmt: skip
            for line in httpx.get(collector.metrics_url).text.splitlines():
                if line.startswith("cc_analytics_store_write") and ("_count" in line or "_sum" in line):
                    print("  ", line)
            if spy:
                spy.wait()
        finally:
            collector.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
