"""DNS rebinding and cross-site posts: a web page that makes its own name resolve to 127.0.0.1 (or posts from
another origin) gets 403 with the reason from OTLP/HTTP, the console and /metrics, and nothing it sent is
stored; real OTLP clients and the loopback names are unaffected. Against the real collector on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from google.rpc import status_pb2

from tests.support import otlp_raw as otlp
from tests.support import workload
from tests.support.collector import CollectorProcess
from tests.support.running import running

EXTRA_NAME = "collector.example"
JSON = otlp.CONTENT_TYPES["json"]
PROTOBUF = otlp.CONTENT_TYPES["protobuf"]
PERMISSION_DENIED = 7


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    yield from running(CollectorProcess(data_dir=tmp_path_factory.mktemp("rebinding") / "data"))


def _post(collector: CollectorProcess, body: bytes, content_type: str, headers: dict[str, str]) -> httpx.Response:
    return otlp.post(collector, "metrics", body, content_type, headers)


def _status(response: httpx.Response) -> tuple[int, str]:
    if response.headers["content-type"].startswith("application/json"):
        document = response.json()
        return document["code"], document["message"]
    status = status_pb2.Status.FromString(response.content)
    return status.code, status.message


REFUSED = [
    ({"Host": "evil.example"}, "Host 'evil.example' is not a name of this collector"),
    ({"Host": "evil.example:4318"}, "Host 'evil.example:4318' is not a name of this collector"),
    ({"Host": "127.0.0.1.nip.io"}, "is not a name of this collector"),
    ({"Origin": "https://evil.example"}, "a post from another origin (https://evil.example) is refused"),
    ({"Sec-Fetch-Site": "cross-site"}, "a post from another site's page is refused (Sec-Fetch-Site: cross-site)"),
]


@pytest.mark.parametrize("headers, reason", REFUSED, ids=["host", "host-port", "rebound-ip-name", "origin", "site"])
@pytest.mark.parametrize("encoding", ["json", "protobuf"])
def test_foreign_posts_are_refused_and_nothing_is_stored(
    collector: CollectorProcess, org: str, headers: dict[str, str], reason: str, encoding: str
) -> None:
    document = otlp.edit_request(org, lines=7, cost=0.5)
    body = otlp.to_json(document) if encoding == "json" else otlp.to_protobuf(document)
    content_type = JSON if encoding == "json" else PROTOBUF
    response = _post(collector, body, content_type, headers)
    assert response.status_code == 403
    code, message = _status(response)
    assert code == PERMISSION_DENIED and reason in message
    assert otlp.figures(collector, org) == otlp.ZERO
    # The same request from a real sender (no browser headers, Host 127.0.0.1:port) is counted once.
    assert _post(collector, body, content_type, {}).status_code == 200
    assert otlp.figures(collector, org) == otlp.edit_figures(lines=7, cost=0.5)


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST.", "127.0.0.1", "[::1]"], ids=["name", "fqdn", "ipv4", "ipv6"]
)
def test_loopback_names_are_accepted_with_any_port(collector: CollectorProcess, org: str, host: str) -> None:
    for port in (collector.http_port, 4318):
        response = _post(collector, otlp.to_json(otlp.edit_request(org, lines=3)), JSON, {"Host": f"{host}:{port}"})
        assert response.status_code == 200, response.text
    response = _post(collector, otlp.to_json(otlp.edit_request(org, lines=3)), JSON, {"Host": host})
    assert response.status_code == 200
    assert otlp.figures(collector, org) == otlp.edit_figures(lines=9, accepts=3, sessions=1)


def test_a_real_otlp_client_is_unaffected(collector: CollectorProcess) -> None:
    workload.send_with_sdk("http/protobuf", collector.otlp_http_url, "delta")
    start, end = otlp.day_range()
    totals = collector.analytics(start, end, org=workload.ORG)["totals"]
    # org-acme holds Alice, Bob and Dave (Carol sends no organization.id): 16 + 7 accepted lines, 2 removed,
    # 6 accepts and 2 rejects, 0.5 + 0.25 USD; Alice, Bob and Dave active; sessions a1, b1, b2, d1.
    expected = {"accepted_lines": 23, "removed_lines": 2, "accepts": 6, "rejects": 2, "spend_usd": 0.75,
                "active_users": 3, "sessions": 4}  # fmt: skip
    assert {key: totals[key] for key in expected} == expected


def test_console_and_metrics_refuse_foreign_hosts_too(collector: CollectorProcess) -> None:
    bearer = collector.api_headers()
    for url in (f"{collector.api_url}/", f"{collector.api_url}/api/v1/me", f"{collector.api_url}/login",
                collector.metrics_url):  # fmt: skip
        refused = httpx.get(url, headers={**bearer, "Host": "evil.example"}, timeout=30)
        assert refused.status_code == 403, url
        assert refused.json()["message"].startswith("Host 'evil.example' is not a name of this collector")
        assert "test-admin" not in refused.text and "claude_code" not in refused.text
        assert httpx.get(url, headers={**bearer, "Host": "localhost"}, timeout=30).status_code == 200, url
    # Probes carry no data and come by pod address or service name.
    for path in ("/healthz", "/readyz"):
        assert httpx.get(f"{collector.api_url}{path}", headers={"Host": "collector-0.collector"}).status_code == 200
    # A cross-origin post to the console is refused before it is read.
    login = httpx.post(f"{collector.api_url}/logout", headers={"Origin": "https://evil.example"}, timeout=30)
    assert login.status_code == 403 and "set-cookie" not in login.headers


def test_allowed_hosts_adds_names(tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("allowed-hosts")
    process = CollectorProcess(
        data_dir=folder / "data", extra_env={"CC_ANALYTICS_HTTP_ALLOWED_HOSTS": f" {EXTRA_NAME.upper()} ,other.example"}
    ).start()
    try:
        org = "org-allowed-hosts"
        body = otlp.to_json(otlp.edit_request(org, lines=5))
        assert _post(process, body, JSON, {"Host": f"{EXTRA_NAME}:4318"}).status_code == 200
        assert _post(process, body, JSON, {"Host": "localhost"}).status_code == 200  # duplicate: counted once
        refused = _post(process, otlp.to_json(otlp.edit_request(org, lines=11)), JSON, {"Host": "evil.example"})
        assert refused.status_code == 403
        assert otlp.figures(process, org) == otlp.edit_figures(lines=5)
        page = httpx.get(f"{process.api_url}/login", headers={"Host": f"{EXTRA_NAME}:8080"}, timeout=30)
        assert page.status_code == 200
        assert '"event": "http.refused"' in process.log() and '"host": "evil.example"' in process.log()
    finally:
        process.kill()
