"""One refusal table for both transports: every refusal the receiver makes has exactly one row, every row's
status label is a pre-created self-metric series, and what OTLP/HTTP answers is what the row says.

The HTTP app is the real one (httpx speaks ASGI to it); the consumer behind it is a test
double that answers each batch with the outcome under test (queue full, store unreachable, store refusing),
faults the writer only shows with a store in that state.
"""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import Future
from pathlib import Path

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2, status_pb2

from collector.selfmetrics import STATUSES
from pdata import Batch
from pdata.consumer import ConsumeResult, Overloaded, Refused, Unavailable
from pdata.vocabulary import OTLP_REQUESTS
from receiver.otlp.auth import TokenAuth
from receiver.otlp.config import OtlpReceiverConfig
from receiver.otlp.http_server import create_otlp_http_app
from receiver.otlp.observer import LoggingObserver
from receiver.otlp.refusals import ANSWERS, REFUSED_ERRORS, Refusal, refusal_for
from tests.support import otlp_raw as otlp

ROOT = Path(__file__).resolve().parents[2]
TRANSPORTS = ("http_server.py", "grpc_server.py", "grpc_guard.py")


def _kinds_named_in_the_transports() -> set[str]:
    source = "\n".join((ROOT / "receiver" / "otlp" / name).read_text() for name in TRANSPORTS)
    return set(re.findall(r'Refusal\(\s*"(\w+)"', source))


def test_every_refusal_the_transports_make_has_one_row_and_every_row_is_used() -> None:
    raised = {refusal_for(error_type("x")).kind for error_type in REFUSED_ERRORS}
    named = _kinds_named_in_the_transports()
    assert named == {"unsupported_media_type", "body_timeout", "unauthenticated", "overloaded", "bad_request"}
    assert raised | named == set(ANSWERS)


def test_the_table_keeps_every_answer_the_transports_gave_and_refuses_permanently_what_the_store_refused() -> None:
    table = {kind: (a.http_status, a.grpc_code.name, a.retry, a.status) for kind, a in ANSWERS.items()}
    assert table == {
        "bad_request": (400, "INVALID_ARGUMENT", False, "bad_request"),
        "body_timeout": (408, "DEADLINE_EXCEEDED", False, "bad_request"),
        "too_large": (413, "RESOURCE_EXHAUSTED", False, "too_large"),
        "unauthenticated": (401, "UNAUTHENTICATED", False, "unauthenticated"),
        "unsupported_media_type": (415, "INVALID_ARGUMENT", False, "unsupported_media_type"),
        "overloaded": (429, "RESOURCE_EXHAUSTED", True, "overloaded"),
        "unavailable": (503, "UNAVAILABLE", True, "unavailable"),
        "refused_by_store": (400, "INVALID_ARGUMENT", False, "refused_by_store"),
    }


def test_every_status_label_is_a_pre_created_series_and_documented() -> None:
    for answer in ANSWERS.values():
        assert answer.status in STATUSES
        assert answer.status in OTLP_REQUESTS.help


class Answering:
    """The consumer double: every batch's future ends with `outcome` (an exception or a result)."""

    def __init__(self, outcome: Exception | None) -> None:
        self.outcome = outcome

    def consume(self, batch: Batch) -> Future[ConsumeResult]:
        future: Future[ConsumeResult] = Future()
        if isinstance(self.outcome, Overloaded):
            raise self.outcome  # the queue refuses before anything is queued
        if self.outcome is None:
            future.set_result(ConsumeResult())
        else:
            future.set_exception(self.outcome)
        return future


def _post(
    outcome: Exception | None, content_type: str = "application/x-protobuf", body: bytes | None = None
) -> httpx.Response:
    app = create_otlp_http_app(OtlpReceiverConfig(), TokenAuth({}), Answering(outcome), LoggingObserver())
    if body is None:
        body = otlp.to_protobuf(otlp.edit_request("org-refusals", lines=1))

    async def post() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
            return await client.post("/v1/metrics", content=body, headers={"content-type": content_type})

    return asyncio.run(post())


@pytest.mark.parametrize(
    ("kind", "outcome", "content_type", "body"),
    [
        ("overloaded", Overloaded("queue full", 1), "application/x-protobuf", None),
        ("unavailable", Unavailable("store unavailable, nothing was kept: retry later", 5), "application/x-protobuf", None),
        ("refused_by_store", Refused("refused by the store: Code: 469. (VIOLATED_CONSTRAINT)"), "application/x-protobuf", None),
        ("bad_request", None, "application/x-protobuf", b"\xff\xff\xff"),
        ("unsupported_media_type", None, "text/plain", b"x"),
    ],
)  # fmt: skip
def test_http_answers_what_the_row_says(
    kind: str, outcome: Exception | None, content_type: str, body: bytes | None
) -> None:
    answer = ANSWERS[kind]  # type: ignore[index]
    response = _post(outcome, content_type, body)
    assert response.status_code == answer.http_status
    status = status_pb2.Status.FromString(response.content)
    assert status.code == answer.grpc_code.value[0]
    if outcome is not None:
        assert status.message == str(outcome)
    if answer.retry:
        assert response.headers["retry-after"] == str(outcome.retry_after_s)  # type: ignore[union-attr]
        info = error_details_pb2.RetryInfo()
        assert status.details[0].Unpack(info) and info.retry_delay.seconds == outcome.retry_after_s  # type: ignore[union-attr]
    else:
        assert "retry-after" not in response.headers and not status.details


def test_a_refusal_carries_a_retry_delay_only_when_its_row_says_retry() -> None:
    assert Refusal("unavailable", "gone", 5).retry_after_s == 5
    assert Refusal("refused_by_store", "bad value", 5).retry_after_s is None
    assert ANSWERS["refused_by_store"].grpc_code is grpc.StatusCode.INVALID_ARGUMENT
