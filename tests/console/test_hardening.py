"""Console and HTTP hardening, against the running collector: sign-in only from the console's own pages,
a sign-in link that asks before it signs in, the security headers on every kind of answer, bodies capped
before they are read, and signing out that ends the session on the server (also across a restart)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import time
import warnings
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette nudges towards another HTTP client package
    from starlette.testclient import TestClient

from console.access import AccessStore
from console.api import create_api_app
from console.auth import AuthSettings
from console.hardening import MAX_BODY_BYTES
from tests.console.conftest import role_token
from tests.console.workload import D1
from tests.support.collector import CONSOLE_TOKEN, CollectorProcess

EVIL = "https://evil.example"
LAN_NAME = "collector.test"  # resolved to 127.0.0.1 by Chromium's host rules below: a plain-http LAN name
NONCE = re.compile(r'name=nonce value="([^"]+)"')


def _me(collector: CollectorProcess, cookie: str) -> int:
    return httpx.get(f"{collector.api_url}/api/v1/me", cookies={"cca_session": cookie}, timeout=30).status_code


def _sign_in(collector: CollectorProcess, token: str = CONSOLE_TOKEN) -> str:
    """Sign in as the console page's own form does (same-origin); returns the session cookie."""
    response = httpx.post(
        f"{collector.api_url}/login",
        data={"token": token},
        headers={"Origin": collector.api_url, "Sec-Fetch-Site": "same-origin"},
        timeout=30,
    )
    assert response.status_code == 303, response.text
    return response.cookies["cca_session"]


# -- login CSRF ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://other.localhost"},
        {"Origin": "http://127.0.0.1:1"},  # same host, another port: another origin
        {"Origin": "null"},  # a sandboxed frame: no nonce
    ],
    ids=["origin", "fetch-site", "same-site", "other-port", "null-origin"],
)
def test_cross_site_sign_in_is_refused(console_collector: CollectorProcess, headers: dict[str, str]) -> None:
    response = httpx.post(
        f"{console_collector.api_url}/login", data={"token": CONSOLE_TOKEN}, headers=headers, timeout=30
    )
    assert response.status_code == 403, response.text
    assert "set-cookie" not in response.headers
    assert "refused" in response.text
    assert CONSOLE_TOKEN not in response.text


def test_same_origin_sign_in_works(console_collector: CollectorProcess) -> None:
    # A browser on https or localhost: Sec-Fetch-Site and Origin (here Origin: null, as Referrer-Policy:
    # no-referrer makes browsers send for a form post) say it is the console's own page.
    response = httpx.post(
        f"{console_collector.api_url}/login",
        data={"token": CONSOLE_TOKEN},
        headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"},
        timeout=30,
    )
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert _me(console_collector, response.cookies["cca_session"]) == 200
    assert _me(console_collector, _sign_in(console_collector)) == 200
    # A browser on plain http elsewhere sends no Sec-Fetch-Site and Origin: null: the form's nonce, equal to
    # the SameSite=Strict cookie set with the form, shows the post came from the console's page.
    with httpx.Client(base_url=console_collector.api_url, timeout=30) as browser:
        form = browser.get("/login")
        nonce = NONCE.search(form.text).group(1)
        assert browser.cookies["cca_login"] == nonce
        refused = browser.post("/login", data={"token": CONSOLE_TOKEN, "nonce": "forged"}, headers={"Origin": "null"})
        assert refused.status_code == 403 and "set-cookie" not in refused.headers
        signed_in = browser.post("/login", data={"token": CONSOLE_TOKEN, "nonce": nonce}, headers={"Origin": "null"})
        assert signed_in.status_code == 303
        assert browser.get("/api/v1/me").json()["name"] == "test-admin"


def test_console_refuses_cross_site_sign_in_without_the_collector_in_front(tmp_path: Path) -> None:
    """The console's own check, whatever serves it (here the bare ASGI app, without the collector's Host guard)."""
    access = AccessStore(tmp_path / "access.yaml")
    _, token = access.add("dana@example.com", "owner")

    def ready() -> tuple[bool, str]:
        return True, ""

    client = TestClient(create_api_app(None, ready, access, AuthSettings()), follow_redirects=False)  # type: ignore[arg-type]
    for headers in ({"Origin": EVIL}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}):
        refused = client.post("/login", data={"token": token}, headers=headers)
        assert refused.status_code == 403 and "set-cookie" not in refused.headers, headers
    signed_in = client.post("/login", data={"token": token}, headers={"Origin": "http://testserver"})
    assert signed_in.status_code == 303 and "cca_session=" in signed_in.headers["set-cookie"]


def test_sign_in_link_asks_before_signing_in(console_collector: CollectorProcess) -> None:
    with httpx.Client(base_url=console_collector.api_url, timeout=30) as browser:
        page = browser.get("/login", params={"token": CONSOLE_TOKEN})
        assert page.status_code == 200
        assert "cca_session" not in browser.cookies  # a GET never signs in
        assert browser.get("/api/v1/me").status_code == 401
        assert "id=confirm-principal>test-admin</strong> (Admin)" in page.text
        assert '<form method=post action="/login">' in page.text
        nonce = NONCE.search(page.text).group(1)
        confirmed = browser.post("/login", data={"token": CONSOLE_TOKEN, "nonce": nonce}, headers={"Origin": "null"})
        assert confirmed.status_code == 303
        assert browser.get("/api/v1/me").json() == {"name": "test-admin", "role": "admin", "role_name": "Admin"}
    with httpx.Client(base_url=console_collector.api_url, timeout=30) as browser:
        wrong = browser.get("/login", params={"token": "cca_wrong"})
        assert wrong.status_code == 401 and "not valid" in wrong.text and "confirm-login" not in wrong.text
        assert "cca_session" not in browser.cookies


# -- headers ------------------------------------------------------------------------------------------------

MONTH = str(D1)[:7]
RANGE = {"start": str(D1), "end": str(D1)}
ADMIN = {"Authorization": f"Bearer {CONSOLE_TOKEN}"}
# (path, params, headers, status, content type prefix, carries member data)
ANSWERS = [
    ("/", {}, ADMIN, 200, "text/html", True),
    ("/", {}, {}, 401, "text/html", True),
    ("/", {}, {"Authorization": f"Bearer {role_token('user')}"}, 403, "text/html", True),
    ("/login", {}, {}, 200, "text/html", True),
    ("/login", {"token": CONSOLE_TOKEN}, {}, 200, "text/html", True),
    ("/api/v1/analytics", RANGE, ADMIN, 200, "application/json", True),
    ("/api/v1/analytics", {"start": "yesterday"}, ADMIN, 400, "application/json", True),
    ("/api/v1/team", {"month": MONTH}, ADMIN, 200, "application/json", True),
    ("/api/v1/filters", RANGE, ADMIN, 200, "application/json", True),
    ("/api/v1/me", {}, ADMIN, 200, "application/json", True),
    ("/api/v1/me", {}, {}, 401, "application/json", True),
    ("/api/v1/analytics.csv", RANGE, ADMIN, 200, "text/csv", True),
    ("/api/v1/team.csv", {"month": MONTH}, ADMIN, 200, "text/csv", True),
    ("/v1/organizations/usage_report/claude_code", {"starting_at": str(D1)}, ADMIN, 200, "application/json", True),
    ("/openapi.json", {}, {}, 200, "application/json", True),
    ("/healthz", {}, {}, 200, "application/json", True),
    ("/no-such-page", {}, {}, 404, "text/plain", True),
    ("/static/console.js", {}, {}, 200, "text/javascript", False),
    ("/static/login.js", {}, {}, 200, "text/javascript", False),
    ("/static/console.css", {}, {}, 200, "text/css", False),
    ("/static/vendor/plotly.min.js", {}, {}, 200, "text/javascript", False),
]


@pytest.mark.parametrize("path, params, headers, status, media, private", ANSWERS)
def test_security_headers_on_every_kind_of_answer(
    console_collector: CollectorProcess, path: str, params: dict, headers: dict, status: int, media: str, private: bool
) -> None:
    response = httpx.get(f"{console_collector.api_url}{path}", params=params, headers=headers, timeout=30)
    assert response.status_code == status
    assert response.headers["content-type"].startswith(media)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    policy = _csp(response.headers["content-security-policy"])
    assert policy["frame-ancestors"] == ["'none'"]
    if media == "text/html":
        assert policy["script-src"] == ["'self'"]  # no inline script, no eval, no other origin
        assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
    else:
        assert policy["default-src"] == ["'none'"]
    if private:
        assert response.headers["cache-control"] == "no-store"
    else:
        assert "no-store" not in response.headers.get("cache-control", "")


def _csp(header: str) -> dict[str, list[str]]:
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str | None] = []
        self.inline_code = ""
        self.handlers: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        self.handlers += [
            value for name, value in attrs if name in ("href", "src") and (value or "").startswith("javascript:")
        ]
        if tag == "script":
            self.sources.append(dict(attrs).get("src"))
            self._in_script = True

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline_code += data.strip()


@pytest.mark.parametrize("params", [{}, {"token": CONSOLE_TOKEN}])
def test_pages_have_no_inline_script(console_collector: CollectorProcess, params: dict) -> None:
    for path, headers in (("/", ADMIN), ("/login", {})):
        scripts = _Scripts()
        scripts.feed(httpx.get(f"{console_collector.api_url}{path}", params=params, headers=headers, timeout=30).text)
        assert scripts.inline_code == "" and scripts.handlers == [], path
        assert all(source and source.startswith("/static/") for source in scripts.sources), scripts.sources


# -- body size --------------------------------------------------------------------------------------------

HUGE = 300 * 1024 * 1024
SEND_AT_MOST = 64 * 1024 * 1024  # what the client pushes before giving up on an answer
RSS_GROWTH_LIMIT_KIB = 4 * 1024


def _rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1))


def _push(port: int, head: bytes, chunk: bytes) -> tuple[bytes, int]:
    """Send `head`, then `chunk` over and over until the server answers (or SEND_AT_MOST bytes went out);
    returns the answer read within 10 s of the last byte sent, and how many body bytes were sent."""
    sent = 0
    answer = b""
    pending = memoryview(chunk)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        while sent < SEND_AT_MOST:
            try:
                answer = sock.recv(65536)
                break
            except BlockingIOError:
                pass
            try:
                count = sock.send(pending)
            except BlockingIOError:
                time.sleep(0.001)
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += count
            pending = pending[count:] or memoryview(chunk)  # a partial send continues where it stopped
        sock.settimeout(10)
        try:
            while not answer.endswith(b"\r\n\r\n") and b"\r\n\r\n" not in answer:
                more = sock.recv(65536)
                if not more:
                    break
                answer += more
        except (TimeoutError, ConnectionResetError):
            pass
    return answer, sent


@pytest.mark.parametrize(
    "method, path, framing",
    [
        ("POST", "/login", "content-length"),
        ("POST", "/login", "chunked"),
        ("GET", "/api/v1/analytics", "content-length"),
        ("POST", "/logout", "content-length"),
    ],
)
def test_large_bodies_are_refused_before_they_are_read(
    console_collector: CollectorProcess, method: str, path: str, framing: str
) -> None:
    pid = console_collector.process.pid
    httpx.get(f"{console_collector.api_url}/login", timeout=30)  # warm: the first answer's allocations are not ours
    before = _rss_kib(pid)
    block = b"token=" + b"A" * (64 * 1024 - 6)
    if framing == "chunked":
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n".encode()
        chunk = f"{len(block):x}\r\n".encode() + block + b"\r\n"
    else:
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {HUGE}\r\n".encode()
        chunk = block
    head += b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
    answer, sent = _push(console_collector.api_port, head, chunk)
    grown = _rss_kib(pid) - before
    assert answer.startswith(b"HTTP/1.1 413 "), (answer[:200], sent)
    assert b"connection: close" in answer.lower()
    assert sent < SEND_AT_MOST
    assert grown < RSS_GROWTH_LIMIT_KIB, f"RSS grew by {grown} KiB"
    # Up to the limit is still a request like any other.
    small = httpx.post(
        f"{console_collector.api_url}/login", content=b"token=" + b"x" * (MAX_BODY_BYTES - 6),
        headers={"content-type": "application/x-www-form-urlencoded"}, timeout=30,
    )  # fmt: skip
    assert small.status_code == 401 and "not valid" in small.text


# -- sign-out and restarts (a collector of this module's own) -----------------------------------------------


@pytest.fixture(scope="module")
def own_collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    folder = tmp_path_factory.mktemp("hardening")
    process = CollectorProcess(data_dir=folder / "data", extra_env={"CC_ANALYTICS_HTTP_ALLOWED_HOSTS": LAN_NAME})
    process.start()
    try:
        yield process
    finally:
        process.kill()


def test_sign_out_ends_the_session_on_the_server(own_collector: CollectorProcess) -> None:
    kept = _sign_in(own_collector)  # another browser of the same principal: not signed out
    with httpx.Client(base_url=own_collector.api_url, timeout=30) as browser:
        browser.post("/login", data={"token": CONSOLE_TOKEN})
        copied = browser.cookies["cca_session"]
        assert _me(own_collector, copied) == 200
        signed_out = browser.post("/logout")
        assert signed_out.status_code == 303 and signed_out.headers["location"] == "/login"
    assert _me(own_collector, copied) == 401  # the cookie, replayed after sign-out
    page = httpx.get(f"{own_collector.api_url}/", cookies={"cca_session": copied}, timeout=30)
    assert page.status_code == 401 and "input type=password name=token" in page.text
    assert _me(own_collector, kept) == 200
    record = own_collector.data_dir / "access.signed-out.jsonl"
    assert record.stat().st_mode & 0o077 == 0

    own_collector.stop()
    own_collector.start()
    assert _me(own_collector, copied) == 401  # still signed out after a restart
    assert _me(own_collector, kept) == 200
    assert _me(own_collector, _sign_in(own_collector)) == 200


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def test_sign_in_link_in_a_real_browser_over_plain_http(own_collector: CollectorProcess) -> None:
    """Chromium opens the printed kind of link on a LAN name over plain http (no Sec-Fetch-Site, Origin: null
    on the form post): it shows the confirmation, takes the token out of the address bar, and the button
    signs in."""
    if not (CHROMIUM and CHROMEDRIVER):
        if os.environ.get("CC_ANALYTICS_REQUIRE_E2E") == "1":
            pytest.fail("headless Chromium needs the Debian packages chromium and chromium-driver")
        pytest.skip("headless Chromium needs the Debian packages chromium and chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--host-resolver-rules=MAP {LAN_NAME} 127.0.0.1"):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        base = f"http://{LAN_NAME}:{own_collector.api_port}"
        driver.get(f"{base}/login?token={CONSOLE_TOKEN}")
        assert driver.find_element("id", "confirm-principal").text == "test-admin"
        WebDriverWait(driver, 10).until(lambda d: d.current_url == f"{base}/login")  # token out of the address bar
        assert driver.get_cookie("cca_session") is None
        driver.find_element("id", "confirm-login").click()
        WebDriverWait(driver, 30).until(lambda d: d.current_url == f"{base}/")
        WebDriverWait(driver, 30).until(lambda d: d.find_element("id", "who").text == "test-admin · Admin")
        assert [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"] == []
    finally:
        driver.quit()
