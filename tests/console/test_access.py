"""Roles and access: every data endpoint answers 200 / 401 / 403 by role, leaks nothing when refusing, and
revoked or rotated tokens stop working at once. Tokens never reach the collector's log."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

import httpx
import pytest

with warnings.catch_warnings():
    # Starlette nudges towards another HTTP client package; httpx is what this suite uses everywhere.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from console.access import AccessStore
from console.api import create_api_app
from console.auth import AuthSettings
from console.roles import ANALYTICS_ROLES, ROLES
from tests.console.conftest import role_token
from tests.console.workload import API_KEY_ID, D1, INGEST_TOKEN
from tests.support.collector import CONSOLE_TOKEN, REPO_ROOT, CollectorProcess

REPORT = "/v1/organizations/usage_report/claude_code"
ENDPOINTS: list[tuple[str, dict[str, str]]] = [
    ("/", {}),
    ("/api/v1/analytics", {"start": str(D1), "end": str(D1)}),
    ("/api/v1/analytics.csv", {"start": str(D1), "end": str(D1)}),
    ("/api/v1/team", {"month": str(D1)[:7]}),
    ("/api/v1/team.csv", {"month": str(D1)[:7]}),
    ("/api/v1/filters", {"start": str(D1), "end": str(D1)}),
    ("/api/v1/me", {}),
    (REPORT, {"starting_at": str(D1)}),
]
# Strings that appear in every allowed answer of the data endpoints for D1 and must never appear in a refusal.
SECRETS_OF_THE_DATA = ("alice@example.com", API_KEY_ID, "accepted_lines", "org-a")


def _get(collector: CollectorProcess, path: str, params: dict[str, str], headers: dict[str, str]) -> httpx.Response:
    return httpx.get(f"{collector.api_url}{path}", params=params, headers=headers, timeout=30, follow_redirects=False)


@pytest.mark.parametrize("role", [*ROLES, None])
def test_role_matrix(console_collector: CollectorProcess, role: str | None) -> None:
    headers = {"Authorization": f"Bearer {role_token(role)}"} if role else {}
    expected = 401 if role is None else (200 if role in ANALYTICS_ROLES else 403)
    for path, params in ENDPOINTS:
        response = _get(console_collector, path, params, headers)
        assert response.status_code == expected, (role, path, response.status_code, response.text[:200])
        if expected != 200:
            for secret in SECRETS_OF_THE_DATA:
                assert secret not in response.text, (role, path)
            if path == REPORT:
                kind = "authentication_error" if expected == 401 else "permission_error"
                assert response.json() == {
                    "type": "error",
                    "error": {"type": kind, "message": response.json()["error"]["message"]},
                }
            elif path.startswith("/api/"):
                assert response.json()["error"] == ("unauthorized" if expected == 401 else "forbidden")
            else:
                assert "text/html" in response.headers["content-type"]
        elif path == "/api/v1/me":
            assert response.json() == {"name": f"{role}@example.com", "role": role, "role_name": ROLES[role]}


def test_open_endpoints_carry_no_data(console_collector: CollectorProcess) -> None:
    for path in ("/healthz", "/readyz", "/openapi.json", "/login", "/static/console.js"):
        response = _get(console_collector, path, {}, {})
        assert response.status_code == 200, path
        for secret in SECRETS_OF_THE_DATA[:2]:
            assert secret not in response.text


def test_x_api_key_and_unknown_tokens(console_collector: CollectorProcess) -> None:
    report = {"starting_at": str(D1)}
    assert _get(console_collector, REPORT, report, {"x-api-key": CONSOLE_TOKEN}).status_code == 200
    assert _get(console_collector, REPORT, report, {"x-api-key": "cca_nope"}).status_code == 401
    assert _get(console_collector, "/api/v1/team", {}, {"Authorization": "Bearer cca_nope"}).status_code == 401
    # The ingest token is not a console credential.
    assert _get(console_collector, "/api/v1/team", {}, {"Authorization": f"Bearer {INGEST_TOKEN}"}).status_code == 401


def test_browser_login_sets_a_strict_httponly_cookie(console_collector: CollectorProcess) -> None:
    with httpx.Client(base_url=console_collector.api_url, timeout=30) as browser:
        assert browser.get("/").status_code == 401  # the login form
        failed = browser.post("/login", data={"token": "cca_wrong"})
        assert failed.status_code == 401 and "not valid" in failed.text
        response = browser.post("/login", data={"token": role_token("developer")})
        assert response.status_code == 303 and response.headers["location"] == "/"
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and role_token("developer") not in cookie
        assert browser.get("/").status_code == 200
        assert browser.get("/api/v1/me").json()["role"] == "developer"
        browser.post("/logout")
        assert browser.get("/api/v1/me").status_code == 401
    with httpx.Client(base_url=console_collector.api_url, timeout=30) as browser:
        _open_login_link(browser, role_token("membership_admin"))
        assert browser.get("/").status_code == 403
        # A forged cookie is refused.
        browser.cookies.set("cca_session", "eyJwIjoicF90ZXN0MCJ9.deadbeef")
        assert browser.get("/api/v1/me").status_code == 401


def _open_login_link(browser: httpx.Client, token: str) -> httpx.Response:
    """Open /login?token=… and press its confirmation button, as a person does."""
    page = browser.get("/login", params={"token": token})
    assert page.status_code == 200 and "confirm-login" in page.text
    nonce = re.search(r'name=nonce value="([^"]+)"', page.text).group(1)
    response = browser.post("/login", data={"token": token, "nonce": nonce}, headers={"Origin": "null"})
    assert response.status_code == 303
    return response


def _access(collector: CollectorProcess, *arguments: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-m", "collector", "access", *arguments, "--data-dir", str(collector.data_dir)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return completed.stdout


def _token_of(output: str) -> str:
    return next(line.split(": ", 1)[1] for line in output.splitlines() if line.startswith("token (shown once)"))


def test_cli_add_revoke_rotate_take_effect_at_once(console_collector: CollectorProcess) -> None:
    api = console_collector.api_url
    added = _access(console_collector, "add", "carol@example.com", "--role", "Billing")
    token = _token_of(added)
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{api}/api/v1/me", headers=bearer).json()["role"] == "billing"
    listing = _access(console_collector, "list")
    assert "carol@example.com" in listing and "Billing" in listing and token not in listing
    assert token not in (console_collector.data_dir / "access.yaml").read_text()

    with httpx.Client(base_url=api, timeout=30) as browser:
        _open_login_link(browser, token)
        assert browser.get("/api/v1/me").status_code == 200
        rotated = _token_of(_access(console_collector, "rotate", "carol@example.com"))
        # The old token and the session made with it stop at once; the new token works.
        assert httpx.get(f"{api}/api/v1/me", headers=bearer).status_code == 401
        assert browser.get("/api/v1/me").status_code == 401
        assert httpx.get(f"{api}/api/v1/me", headers={"x-api-key": rotated}).status_code == 200
    _access(console_collector, "revoke", "carol@example.com")
    assert httpx.get(f"{api}/api/v1/me", headers={"x-api-key": rotated}).status_code == 401

    log = console_collector.log()
    for secret in (token, rotated, CONSOLE_TOKEN, INGEST_TOKEN, *(role_token(role) for role in ROLES)):
        assert secret not in log


def test_first_start_creates_a_primary_owner_and_prints_a_login_url(tmp_path: Path) -> None:
    process = CollectorProcess(
        data_dir=tmp_path / "data", extra_env={"CC_ANALYTICS_CONSOLE_ACCESS_FILE": str(tmp_path / "access.yaml")}
    )
    process.start()
    try:
        deadline = time.monotonic() + 20
        while "/login?token=" not in process.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        line = next(line for line in process.log().splitlines() if "/login?token=" in line)
        url = line.strip()
        assert url.startswith(f"http://127.0.0.1:{process.api_port}/login?token=cca_")
        token = url.split("token=", 1)[1]
        # The JSON log lines never carry it: only the one plain line printed for the operator.
        assert all(token not in entry for entry in process.log().splitlines() if entry.startswith("{"))
        with httpx.Client(base_url=process.api_url, timeout=30) as browser:
            page = browser.get(url.replace(process.api_url, ""))
            assert page.status_code == 200 and "id=confirm-principal>owner</strong>" in page.text
            _open_login_link(browser, token)
            assert browser.get("/api/v1/me").json() == {
                "name": "owner",
                "role": "primary_owner",
                "role_name": "Primary Owner",
            }
    finally:
        process.kill()


def test_trusted_proxy_header_only_when_configured(tmp_path: Path) -> None:
    access = AccessStore(tmp_path / "access.yaml")
    access.add("dana@example.com", "owner")
    access.add("eve@example.com", "user")

    def ready() -> tuple[bool, str]:
        return True, ""

    # /api/v1/me reads no store: the store argument is never touched here.
    trusting = TestClient(create_api_app(None, ready, access, AuthSettings(trusted_header="X-Forwarded-Email")))  # type: ignore[arg-type]
    assert trusting.get("/api/v1/me", headers={"X-Forwarded-Email": "dana@example.com"}).json()["role"] == "owner"
    assert trusting.get("/api/v1/me", headers={"X-Forwarded-Email": "eve@example.com"}).status_code == 403
    assert trusting.get("/api/v1/me", headers={"X-Forwarded-Email": "mallory@example.com"}).status_code == 401
    default = TestClient(create_api_app(None, ready, access, AuthSettings()))  # type: ignore[arg-type]
    assert default.get("/api/v1/me", headers={"X-Forwarded-Email": "dana@example.com"}).status_code == 401
