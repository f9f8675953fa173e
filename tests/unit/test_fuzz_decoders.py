"""Fuzzing both OTLP decoders (protobuf and JSON) with hypothesis, against the real decode functions and the
real processors and row builder behind them. The inputs are tests/support/otlp_fuzz.py's.

What must hold for every input: decoding either succeeds or raises DecodeFailure (a 400 with its reason,
never a 500); what it yields is storable (finite values, timestamps in range, text attributes); the JSON
fast path and the ParseDict path agree; and the processors and the store's row builder take the batch
without an error (so what a sender gets acknowledged can always be written and read back).

The direct JSON decoder is also checked differentially against the reference path (ParseDict, then the same
flattening as protobuf) on generated well-formed OTLP/JSON: it must take every such document and give the
reference path's rows, refusals and reasons exactly; with nodes of those documents replaced by anything, it
either declines (the reference path then decodes) or gives the same answer.

The bulk runs here, in-process: about 4250 cases, the same on every run (derandomized), about a minute of CPU.
CC_ANALYTICS_FUZZ_SCALE multiplies them and CC_ANALYTICS_FUZZ_RANDOM=1 draws new ones (tests/support/otlp_fuzz.py).
A subset is sent to a running collector over HTTP by tests/integration/test_fuzz_receiver.py.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exporters.clickhouse.rows import event_columns, point_columns
from pdata import Batch, Sender
from processors.chain import ProcessorChain
from processors.dedup import RequestDeduplicator
from processors.identity import IdentityResolver
from processors.temporality import CumulativeToDelta
from receiver.otlp.decode import DecodeFailure
from receiver.otlp.decoding import direct_json
from receiver.otlp.decoding import protobuf as reference_path
from receiver.otlp.ingest import decode
from tests.support.otlp_fuzz import (
    FIXTURES,
    JSON_FIXTURES,
    PROTOBUF_FIXTURES,
    edited_protobuf,
    encode_json,
    fuzz,
    json_documents,
    mutated_json,
    mutated_protobuf,
    mutated_well_formed,
    well_formed_logs,
    well_formed_metrics,
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


_RECEIVED_NS = 1_700_000_000_000_000_000


def _direct(signal: str, body: bytes) -> tuple[list, int, str]:
    """The direct JSON decoder's rows, rejected count and reason; raises its decline, or DecodeFailure."""
    return direct_json.json_metrics(body) if signal == "metrics" else direct_json.json_logs(body, _RECEIVED_NS)


def _reference(signal: str, body: bytes) -> tuple[list, int, str]:
    """ParseDict, then the flattening the protobuf path uses: what the direct decoder must equal."""
    if signal == "metrics":
        return reference_path.flatten_metrics(reference_path.parse_metrics_request(body, "json"))
    return reference_path.flatten_logs(reference_path.parse_logs_request(body, "json"), _RECEIVED_NS)


def _same_result_both_json_paths(signal: str, body: bytes) -> None:
    """The direct JSON decoder declines, or gives the reference path's rows, or both refuse."""
    try:
        fast = _direct(signal, body)
    except direct_json.Declined:
        return  # only the reference path decodes it
    except DecodeFailure:
        fast = None
    try:
        slow = _reference(signal, body)
    except DecodeFailure:
        slow = None
    assert fast == slow


# --- cases ----------------------------------------------------------------------------------------------------


@fuzz(500)
@given(mutated_protobuf())
def test_mutated_protobuf_requests_decode_or_are_refused_with_a_reason(case: tuple[str, bytes]) -> None:
    signal, body = case
    _check(signal, body, "protobuf")


@fuzz(750)
@given(edited_protobuf())
def test_real_protobuf_requests_with_edge_values_decode_or_are_refused(case: tuple[str, bytes]) -> None:
    signal, body = case
    _check(signal, body, "protobuf")


@fuzz(1000)
@given(json_documents)
def test_generated_otlp_json_decodes_or_is_refused_with_a_reason(case: tuple[str, bytes]) -> None:
    signal, body = case
    _check(signal, body, "json")
    _same_result_both_json_paths(signal, body)


@fuzz(500)
@given(mutated_json())
def test_real_json_requests_with_a_node_replaced_decode_or_are_refused(case: tuple[str, bytes]) -> None:
    signal, body = case
    _check(signal, body, "json")
    _same_result_both_json_paths(signal, body)


@pytest.mark.parametrize("signal, documents", [("metrics", well_formed_metrics), ("logs", well_formed_logs)])
@fuzz(500)
@given(data=st.data())
def test_the_direct_json_path_takes_well_formed_documents_and_equals_the_reference_path(
    signal: str, documents: st.SearchStrategy, data: st.DataObject
) -> None:
    body = encode_json(data.draw(documents))
    try:
        direct = _direct(signal, body)
    except direct_json.Declined:
        pytest.fail("the direct JSON path declined a well-formed document it is meant to decode")
    assert direct == _reference(signal, body)


@pytest.mark.parametrize("signal", ["metrics", "logs"])
@fuzz(250)
@given(data=st.data())
def test_the_direct_json_path_declines_or_equals_the_reference_path_with_nodes_replaced(
    signal: str, data: st.DataObject
) -> None:
    body = data.draw(mutated_well_formed(signal))
    _check(signal, body, "json")
    _same_result_both_json_paths(signal, body)


@pytest.mark.parametrize("signal,body,encoding", FIXTURES[:4])
def test_the_unmutated_fixtures_pass_the_same_checks(signal: str, body: bytes, encoding: str) -> None:
    _check(signal, body, encoding)
    if encoding == "json":
        _same_result_both_json_paths(signal, body)
