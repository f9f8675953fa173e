"""Fuzzing both OTLP decoders (protobuf and JSON) with hypothesis, against the real decode functions and the
real processors and row builder behind them. The inputs are tests/support/otlp_fuzz.py's.

What must hold for every input: decoding either succeeds or raises DecodeFailure (a 400 with its reason,
never a 500); what it yields is storable (finite values, timestamps in range, text attributes); the JSON
fast path and the ParseDict path agree; and the processors and the store's row builder take the batch
without an error (so what a sender gets acknowledged can always be written and read back).

The bulk runs here, in-process (about 5500 cases, well under a minute); a subset is sent to a running
collector over HTTP by tests/integration/test_fuzz_receiver.py.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given

from exporters.clickhouse.rows import event_columns, point_columns
from pdata import Batch, Sender
from processors.chain import ProcessorChain
from processors.dedup import RequestDeduplicator
from processors.identity import IdentityResolver
from processors.temporality import CumulativeToDelta
from receiver.otlp import decode as decoder
from receiver.otlp.decode import DecodeFailure
from receiver.otlp.ingest import decode
from tests.support.otlp_fuzz import (
    FIXTURES,
    JSON_FIXTURES,
    PROTOBUF_FIXTURES,
    edited_protobuf,
    fuzz,
    json_documents,
    mutated_json,
    mutated_protobuf,
)

_MAX_TIME_NS = 2**63 - 1


def test_there_are_fixtures_to_mutate() -> None:
    assert len(PROTOBUF_FIXTURES) >= 8 and len(JSON_FIXTURES) >= 8


# --- what must hold for every input ----------------------------------------------------------------------------


def _check(signal: str, body: bytes, encoding: str) -> None:
    try:
        decoded = decode(signal, body, encoding, Sender(api_key_id="k", organization_id="org-fuzz"))
    except DecodeFailure as failure:
        assert str(failure), "a refusal must say why"
        return
    if decoded.batch is None:
        return
    batch = decoded.batch
    assert batch.rejected >= 0 and (batch.rejected == 0 or batch.rejected_reason)
    for point in batch.points:
        assert isinstance(point.value, float) and math.isfinite(point.value), point
        assert 0 < point.time_ns <= _MAX_TIME_NS and 0 <= point.start_ns <= _MAX_TIME_NS, point
        _assert_text(point.attributes)
        _assert_text(point.resource)
        assert isinstance(point.metric, str)
    for event in batch.events:
        assert 0 <= event.time_ns <= _MAX_TIME_NS, event
        assert isinstance(event.name, str) and isinstance(event.body, str)
        _assert_text(event.attributes)
        _assert_text(event.resource)
    _process_and_build_rows(batch)


def _assert_text(mapping: dict) -> None:
    assert all(isinstance(key, str) and isinstance(value, str) for key, value in mapping.items()), mapping


def _process_and_build_rows(batch: Batch) -> None:
    """The real processors, then the real row builder of the store's inserts: no error for any batch."""
    chain = ProcessorChain(IdentityResolver(), CumulativeToDelta(), RequestDeduplicator(10**15))
    group = chain.process([batch])
    if group.points:
        point_columns(group.points)
    if group.events:
        event_columns(group.events)
    chain.commit(group)


def _same_result_both_json_paths(signal: str, body: bytes) -> None:
    """The direct JSON decoder and ParseDict → flatten give the same rows, or both refuse."""
    received_ns = 1_700_000_000_000_000_000
    try:
        if signal == "metrics":
            fast = decoder.json_metrics(body)
        else:
            fast = decoder.json_logs(body, received_ns)
    except decoder._Slow:
        return  # the direct path declined: only ParseDict decodes it
    except DecodeFailure:
        fast = None
    try:
        if signal == "metrics":
            slow = decoder.flatten_metrics(decoder.parse_metrics_request(body, "json"))
        else:
            slow = decoder.flatten_logs(decoder.parse_logs_request(body, "json"), received_ns)
    except DecodeFailure:
        slow = None
    assert (fast is None) == (slow is None), (fast, slow)
    if fast is not None:
        assert fast == slow


# --- cases ----------------------------------------------------------------------------------------------------


@fuzz(1000)
@given(mutated_protobuf())
def test_mutated_protobuf_requests_decode_or_are_refused_with_a_reason(case: tuple[str, bytes]) -> None:
    signal, body = case
    _check(signal, body, "protobuf")


@fuzz(1500)
@given(edited_protobuf())
def test_real_protobuf_requests_with_edge_values_decode_or_are_refused(case: tuple[str, bytes]) -> None:
    signal, body = case
    _check(signal, body, "protobuf")


@fuzz(2000)
@given(json_documents)
def test_generated_otlp_json_decodes_or_is_refused_with_a_reason(case: tuple[str, bytes]) -> None:
    signal, body = case
    _check(signal, body, "json")
    _same_result_both_json_paths(signal, body)


@fuzz(1000)
@given(mutated_json())
def test_real_json_requests_with_a_node_replaced_decode_or_are_refused(case: tuple[str, bytes]) -> None:
    signal, body = case
    _check(signal, body, "json")
    _same_result_both_json_paths(signal, body)


@pytest.mark.parametrize("signal,body,encoding", FIXTURES[:4])
def test_the_unmutated_fixtures_pass_the_same_checks(signal: str, body: bytes, encoding: str) -> None:
    _check(signal, body, encoding)
    if encoding == "json":
        _same_result_both_json_paths(signal, body)
