from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support import workload


def _today_range():
    today = datetime.now(UTC).date()
    return today - timedelta(days=1), today


@pytest.mark.parametrize("temporality", ["delta", "cumulative"])
@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf", "http/json"])
def test_known_workload_gives_exact_figures(collector, protocol: str, temporality: str) -> None:
    workload.send(collector.otlp_grpc_url, collector.otlp_http_url, protocol, temporality)
    start, end = _today_range()
    report = collector.analytics(start, end)
    workload.assert_totals(report["totals"], workload.EXPECTED_WITH_EVENTS)
    assert report["acceptance_by_tool"] == workload.EXPECTED_BY_TOOL
    members = {
        row["member"]: (row["member_type"], row["spend_usd"], row["accepted_lines"], row["sessions"])
        for row in collector.team(end.strftime("%Y-%m"))["members"]
    }
    assert members == workload.EXPECTED_TEAM_WITH_EVENTS
