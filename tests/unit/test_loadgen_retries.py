"""Which answers the load generator sends again (loadgen/runner.py, deliver_one): those the OTLP specification has
exporters retry, with the same bytes, until acknowledged; any other is counted as failed after one attempt."""

from __future__ import annotations

import asyncio
import time

from loadgen import Answer, Request, Workload
from loadgen.runner import RunResult, deliver_one

REQUEST = next(Workload(1, "grpc", "client", seed=3).requests())

RETRIED = [
    Answer("UNAVAILABLE", False),
    Answer("CANCELLED", False),
    Answer("DEADLINE_EXCEEDED", False),
    Answer("ABORTED", False),
    Answer("OUT_OF_RANGE", False),
    Answer("DATA_LOSS", False),
    Answer("RESOURCE_EXHAUSTED", False, retry_after="0"),
    Answer("429", False, retry_after="0"),
    Answer("502", False),
    Answer("503", False),
    Answer("504", False),
    Answer("ConnectError", False, connection_failed=True),
    Answer("RemoteProtocolError", False, connection_failed=True),
]
NOT_RETRIED = [
    Answer("RESOURCE_EXHAUSTED", False),  # no retry hint: the request itself is too large
    Answer("INVALID_ARGUMENT", False),
    Answer("UNAUTHENTICATED", False),
    Answer("400", False),
    Answer("413", False),
    Answer("timeout", False),
]


async def _deliver(first: Answer) -> tuple[bool, RunResult, list[bytes]]:
    """deliver_one against a sender answering `first`, then acknowledging; what it sent each time."""
    answers = [first, Answer("OK", True)]
    sent: list[bytes] = []

    async def send(request: Request) -> Answer:
        sent.append(request.body)
        return answers.pop(0)

    result = RunResult("grpc", "client", 1)
    acknowledged = await deliver_one(send, REQUEST, result, time.perf_counter())
    return acknowledged, result, sent


async def _deliver_each(answers: list[Answer]) -> list[tuple[bool, RunResult, list[bytes]]]:
    # Side by side: each retry waits ~0.5 s, as the load generator does without a retry hint.
    return await asyncio.gather(*(_deliver(answer) for answer in answers))


def test_what_the_otlp_specification_retries_is_sent_again_with_the_same_bytes_and_counted_once() -> None:
    for answer, (acknowledged, result, sent) in zip(RETRIED, asyncio.run(_deliver_each(RETRIED)), strict=True):
        assert acknowledged, answer
        assert sent == [REQUEST.body, REQUEST.body], answer
        assert (result.succeeded, result.failed) == (1, 0), answer
        assert dict(result.attempts) == {answer.status: 1, "OK": 1}, answer
        assert result.accepted.figures() == REQUEST.tally.figures(), answer


def test_any_other_answer_fails_the_request_after_one_attempt() -> None:
    for answer, (acknowledged, result, sent) in zip(NOT_RETRIED, asyncio.run(_deliver_each(NOT_RETRIED)), strict=True):
        assert not acknowledged, answer
        assert sent == [REQUEST.body], answer
        assert (result.succeeded, result.failed) == (0, 1), answer
        assert dict(result.attempts) == {answer.status: 1}, answer
