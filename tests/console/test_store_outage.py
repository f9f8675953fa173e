"""The read API while its ClickHouse server is down: every data endpoint answers 503 in its own envelope (the
console's JSON for the API and its CSV routes, Anthropic's for the Admin-API-compatible report), and bad
parameters still get 400 with the reason, since they are refused before the store is asked."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.clickhouse_http import ClickHouseHttpServer
from tests.support.collector import CONSOLE_TOKEN, CollectorProcess

UNREACHABLE = {"error": "store_unavailable", "message": "the analytics store is unreachable"}
REPORT = "/v1/organizations/usage_report/claude_code"


def test_every_data_endpoint_answers_503_in_its_envelope_while_the_store_is_down(tmp_path: Path) -> None:
    server = ClickHouseHttpServer(data_dir=tmp_path / "clickhouse").start()
    collector = CollectorProcess(
        data_dir=tmp_path / "data", extra_env={"CC_ANALYTICS_STORAGE_DSN": server.dsn("outage")}
    )
    try:
        collector.start()
        days = {"start": "2026-03-01", "end": "2026-03-07"}
        assert collector.api_get("/api/v1/analytics", **days).status_code == 200
        server.kill()

        for path, params in [
            ("/api/v1/analytics", days),
            ("/api/v1/analytics.csv", days),
            ("/api/v1/team", {"month": "2026-03"}),
            ("/api/v1/team.csv", {"month": "2026-03"}),
            ("/api/v1/filters", days),
        ]:
            response = collector.api_get(path, **params)
            assert (response.status_code, response.json()) == (503, UNREACHABLE), path
        report = httpx.get(
            f"{collector.api_url}{REPORT}", params={"starting_at": "2026-03-02"}, headers={"x-api-key": CONSOLE_TOKEN}
        )
        assert (report.status_code, report.json()) == (
            503,
            {"type": "error", "error": {"type": "api_error", "message": "the analytics store is unreachable"}},
        )

        bad_range = collector.api_get("/api/v1/analytics", start="2026-03-07", end="2026-03-01")
        assert (bad_range.status_code, bad_range.json()) == (
            400,
            {"error": "bad_request", "message": "start 2026-03-07 is after end 2026-03-01"},
        )
        bad_report = httpx.get(f"{collector.api_url}{REPORT}", headers={"x-api-key": CONSOLE_TOKEN})
        assert bad_report.status_code == 400
        assert bad_report.json()["error"]["type"] == "invalid_request_error"
        assert "starting_at" in bad_report.json()["error"]["message"]
        assert '"event": "api.store_unavailable"' in collector.log()  # repeats are rate-limited (collector/logs.py)
    finally:
        collector.kill()
        server.kill()
