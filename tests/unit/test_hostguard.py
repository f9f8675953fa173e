"""The Host policy of each HTTP listener and the cross-origin rule (collector.hostguard), case by case."""

from __future__ import annotations

import pytest

from collector.hostguard import host_policy, refusal, same_origin, split_host


@pytest.mark.parametrize(
    "value, expected",
    [
        ("localhost:4318", ("localhost", 4318)),
        ("LocalHost.", ("localhost", None)),
        ("[::1]:8080", ("::1", 8080)),
        ("::1", ("::1", None)),
        ("evil.example", ("evil.example", None)),
        ("evil.example:http", ("evil.example", None)),
    ],
)
def test_split_host(value: str, expected: tuple[str, int | None]) -> None:
    assert split_host(value) == expected


@pytest.mark.parametrize(
    "bind, allowed, host, accepted",
    [
        # Loopback, default: loopback names and addresses only.
        ("127.0.0.1", "", "localhost", True),
        ("127.0.0.1", "", "127.0.0.1", True),
        ("127.0.0.1", "", "::1", True),
        ("127.0.0.1", "", "127.0.0.2", True),
        ("127.0.0.1", "", "evil.example", False),
        ("127.0.0.1", "", "10.0.0.5", False),
        ("::1", "", "evil.example", False),
        ("localhost", "", "evil.example", False),
        # Loopback with names added.
        ("127.0.0.1", "collector.example", "collector.example", True),
        ("127.0.0.1", "collector.example", "evil.example", False),
        ("127.0.0.1", "*", "evil.example", True),
        # Elsewhere: any name, unless names are listed; an address literal cannot be rebound.
        ("0.0.0.0", "", "evil.example", True),
        ("", "", "evil.example", True),
        ("10.0.0.5", "collector.example:4318, other.example", "collector.example", True),
        ("10.0.0.5", "collector.example", "evil.example", False),
        ("10.0.0.5", "collector.example", "10.0.0.5", True),
        ("10.0.0.5", "collector.example", "localhost", True),
    ],
)
def test_host_policy(bind: str, allowed: str, host: str, accepted: bool) -> None:
    assert host_policy(bind, allowed).allows(host) is accepted


@pytest.mark.parametrize(
    "origin, host, same",
    [
        ("http://127.0.0.1:8080", "127.0.0.1:8080", True),
        ("http://127.0.0.1:8081", "127.0.0.1:8080", False),
        ("https://console.example", "console.example", True),  # behind a TLS proxy that keeps Host
        ("https://console.example", "console.example:443", True),
        ("http://console.example", "console.example:8080", False),
        ("https://evil.example", "127.0.0.1:8080", False),
        ("null", "127.0.0.1:8080", False),
        ("http://[::1]:8080", "[::1]:8080", True),
    ],
)
def test_same_origin(origin: str, host: str, same: bool) -> None:
    assert same_origin(origin, host) is same


def _scope(method: str, path: str = "/v1/metrics", **headers: str) -> dict:
    pairs = [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()]
    return {"type": "http", "method": method, "path": path, "headers": pairs}


def test_refusal_reasons() -> None:
    loopback = host_policy("127.0.0.1", "")
    assert refusal(_scope("POST", host="127.0.0.1:4318"), loopback) == ""
    assert "is not a name of this collector" in refusal(_scope("GET", host="evil.example"), loopback)
    assert refusal(_scope("GET", "/healthz", host="evil.example"), loopback, frozenset({"/healthz"})) == ""
    assert "another origin" in refusal(_scope("POST", host="127.0.0.1", origin="https://evil.example"), loopback)
    assert "another site" in refusal(_scope("POST", host="127.0.0.1", sec_fetch_site="cross-site"), loopback)
    # Links from other sites open the console: only unsafe methods are held to the same origin.
    assert refusal(_scope("GET", host="127.0.0.1", sec_fetch_site="cross-site"), loopback) == ""
    # Origin: null is the browsers' own same-origin form post under no-referrer: the console checks its nonce.
    assert refusal(_scope("POST", host="127.0.0.1", origin="null"), loopback) == ""
