"""A subset of the decoder fuzzing (tests/support/otlp_fuzz.py) sent to the running collector over OTLP/HTTP:
every answer is 200 (with or without partial success) or 400 with its reason in OTLP's error format, never a
500; the collector stays up and ready; the views answer; and figures acknowledged before the fuzzing do not
change. The bulk of the fuzzing runs in-process (tests/unit/test_fuzz_decoders.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from google.rpc import status_pb2
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse

from tests.support import otlp_raw as otlp
from tests.support.collector import CollectorProcess
from tests.support.otlp_fuzz import edited_protobuf, fuzz, json_documents, mutated_json, mutated_protobuf

BASELINE_ORG = "org-fuzz-baseline"
_RESPONSES = {"metrics": ExportMetricsServiceResponse, "logs": ExportLogsServiceResponse}

cases = st.one_of(
    st.tuples(mutated_protobuf(), st.just("protobuf")),
    st.tuples(edited_protobuf(), st.just("protobuf")),
    st.tuples(json_documents, st.just("json")),
    st.tuples(mutated_json(), st.just("json")),
)


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    process = CollectorProcess(data_dir=tmp_path_factory.mktemp("fuzz") / "data").start()
    otlp.send(process, "http/protobuf", otlp.edit_request(BASELINE_ORG, lines=7, cost=0.25))
    yield process
    process.kill()


@fuzz(150)
@given(case=cases, gzipped=st.booleans())
def test_fuzzed_requests_get_200_or_400_never_500(collector: CollectorProcess, case, gzipped: bool) -> None:
    (signal, body), encoding = case
    headers = {"content-encoding": "gzip"} if gzipped else {}
    response = otlp.post(collector, signal, otlp.gzipped(body) if gzipped else body, otlp.CONTENT_TYPES[encoding],
                         headers)  # fmt: skip
    assert response.status_code in (200, 400), (response.status_code, response.content[:300])
    if response.status_code == 400:
        reason = (
            response.json()["message"] if encoding == "json" else status_pb2.Status.FromString(response.content).message
        )
        assert reason, response.content
    elif encoding == "json":
        assert isinstance(response.json(), dict)
    else:
        _RESPONSES[signal].FromString(response.content)


def test_after_the_fuzzing_the_collector_is_ready_and_the_figures_it_acknowledged_are_intact(
    collector: CollectorProcess,
) -> None:
    assert collector.process.poll() is None
    assert httpx.get(f"{collector.api_url}/readyz", timeout=10).status_code == 200
    assert otlp.figures(collector, BASELINE_ORG) == otlp.edit_figures(7, cost=0.25)
    # Whatever the fuzzed requests that were accepted wrote, every view still answers over every day they may
    # have landed on.
    today = datetime.now(UTC).date()
    for start, end in ((today - timedelta(days=89), today + timedelta(days=1)), (today, today)):
        response = collector.api_get("/api/v1/analytics", start=str(start), end=str(end))
        assert response.status_code == 200, response.text
        json.dumps(response.json(), allow_nan=False)  # finite numbers only
    month = today.strftime("%Y-%m")
    assert collector.api_get("/api/v1/team", month=month).status_code == 200
    assert collector.api_get("/v1/organizations/usage_report/claude_code", starting_at=str(today)).status_code == 200
    assert "Exception in ASGI application" not in collector.log()
    assert '"level": "error"' not in collector.log()
