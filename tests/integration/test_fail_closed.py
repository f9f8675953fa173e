"""Fail closed: when the collector can no longer keep what it is given, it says so and acknowledges nothing.
Against the real collector on the embedded store (chDB), whose data directory (the store's files and the
durable queue's) is deleted under it; with the durable queue (queue.mode=wal, the default here) and without it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import grpc
import httpx
import pytest

from tests.support import otlp_raw as otlp
from tests.support.collector import CollectorProcess

ORG = "org-fail-closed"


def _answers_after_deletion(collector: CollectorProcess) -> list[tuple[str, str, str]]:
    """Ten requests over every transport: (protocol, answer, retry hint) for each."""
    answers = []
    for index in range(10):
        document = otlp.edit_request(ORG, lines=10 + index, session=f"after{index}")
        protocol = ("http/protobuf", "http/json", "grpc")[index % 3]
        if protocol == "grpc":
            try:
                otlp.grpc_export(collector, "metrics", otlp.to_protobuf(document))
                answers.append((protocol, "OK", ""))
            except grpc.RpcError as exc:
                trailers = dict(exc.trailing_metadata() or ())
                answers.append((protocol, exc.code().name, str(trailers.get("retry-after", ""))))
            continue
        if protocol == "http/json":
            response = otlp.post(collector, "metrics", otlp.to_json(document), otlp.CONTENT_TYPES["json"])
        else:
            response = otlp.post(collector, "metrics", otlp.to_protobuf(document))
        answers.append((protocol, str(response.status_code), response.headers.get("retry-after", "")))
    return answers


# What /readyz and the log say: the durable queue's directory (inside the data directory) is checked first.
LOST = {
    "wal": ("the durable queue's directory", '"event": "queue.directory_lost"'),
    "memory": ("the data directory", '"event": "store.data_directory_lost"'),
}


@pytest.mark.parametrize("mode", ["wal", "memory"])
def test_a_deleted_data_directory_fails_readyz_and_no_request_is_acknowledged_after_it(
    tmp_path: Path, mode: str
) -> None:
    data_dir = tmp_path / "data"
    env = {"CC_ANALYTICS_QUEUE_MODE": mode}
    which, event = LOST[mode]
    collector = CollectorProcess(data_dir=data_dir, extra_env=env).start()
    try:
        otlp.send(collector, "http/protobuf", otlp.edit_request(ORG, lines=3, session="before"))
        assert otlp.figures(collector, ORG) == otlp.edit_figures(3)
        assert httpx.get(f"{collector.api_url}/readyz", timeout=10).status_code == 200

        shutil.rmtree(data_dir)

        ready = httpx.get(f"{collector.api_url}/readyz", timeout=10)
        assert ready.status_code == 503, ready.text
        assert ready.json()["reason"].startswith(which) and "gone" in ready.json()["reason"], ready.text

        # Every request is refused with a retry hint: none is acknowledged, so senders keep them to retry.
        answers = _answers_after_deletion(collector)
        assert answers == [
            (protocol, "UNAVAILABLE" if protocol == "grpc" else "503", "5")
            for protocol in ("http/protobuf", "http/json", "grpc") * 3 + ("http/protobuf",)
        ]
        # The directory chDB recreates for its next parts is not the one it opened: still not ready.
        assert httpx.get(f"{collector.api_url}/readyz", timeout=10).status_code == 503
        assert collector.process.poll() is None
        assert event in collector.log()
    finally:
        collector.kill()

    # Restarted on a fresh directory, the collector takes the senders' retries: nothing was counted twice,
    # and nothing acknowledged was lost, because nothing was acknowledged.
    shutil.rmtree(data_dir, ignore_errors=True)
    restarted = CollectorProcess(data_dir=data_dir, extra_env=env).start()
    try:
        assert otlp.figures(restarted, ORG) == otlp.ZERO
        for index in range(10):
            otlp.send(restarted, "grpc", otlp.edit_request(ORG, lines=10 + index, session=f"after{index}"))
        assert otlp.figures(restarted, ORG) == otlp.edit_figures(145, accepts=10, sessions=10)
    finally:
        restarted.kill()
