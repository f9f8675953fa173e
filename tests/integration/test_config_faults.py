"""Mid-run faults of the console's access file keep the last good principals (and are logged, once per faulty
state), and every malformed session cookie or token is a 401, never a 500. Against the real collector."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.collector import CONSOLE_TOKEN, CollectorProcess

ME = "/api/v1/me"


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorProcess]:
    process = CollectorProcess(data_dir=tmp_path / "data").start()
    yield process
    process.kill()


def _me(collector: CollectorProcess, headers: dict[str, str] | None = None, cookie: str | None = None) -> int:
    """GET /api/v1/me; header values go on the wire as Latin-1 bytes, as any client may send them."""
    raw = {name: value.encode("latin-1") for name, value in (headers or {}).items()}
    if cookie is not None:
        raw["cookie"] = f"cca_session={cookie}".encode("latin-1")
    return httpx.get(f"{collector.api_url}{ME}", headers=raw, timeout=30).status_code


def _signed(secret: bytes, claims: str | bytes) -> str:
    """A cookie value as the console signs it, around arbitrary claims."""
    raw = claims.encode() if isinstance(claims, str) else claims
    payload = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return f"{payload}.{hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()}"


def test_every_malformed_cookie_or_token_is_a_401(collector: CollectorProcess) -> None:
    document = yaml.safe_load((collector.data_dir / "access.yaml").read_text())
    secret = bytes.fromhex(document["session_secret"])  # persisted at start-up
    principal = document["principals"][0]
    version = principal["sha256"][:16]
    claims = {"p": principal["id"], "v": version, "e": 4102444800, "s": "a-session-id-0123456789"}
    assert _me(collector, cookie=_signed(secret, json.dumps(claims))) == 200

    def but(**changes: str) -> str:
        """The valid claims' JSON with some values replaced by raw JSON text."""
        text = json.dumps({key: f"@{key}@" for key in claims})
        for key, value in claims.items():
            text = text.replace(f'"@{key}@"', changes.get(key, json.dumps(value)))
        return _signed(secret, text)

    cookies = {
        "expiry 1e999 (infinity)": but(e="1e999"),
        "expiry NaN": but(e="NaN"),
        "expiry as text": but(e='"4102444800"'),
        "expiry true": but(e="true"),
        "expiry 1e300": but(e="1e300"),
        "principal a list": but(p=json.dumps([principal["id"]])),
        "version a number": but(v="12345"),
        "claims a list": _signed(secret, "[1, 2, 3]"),
        "claims not JSON": _signed(secret, "{not json"),
        "claims not UTF-8": _signed(secret, b"\xff\xfe{}"),
        "deeply nested claims": _signed(secret, "[" * 5_000),
        "signature not ASCII": "eyJwIjoicF90ZXN0MCJ9.\u00e9\u00e9",
        "no signature": "eyJwIjoicF90ZXN0MCJ9",
        "payload not base64": "%%%." + "0" * 64,
        "empty": "",
    }
    for name, cookie in cookies.items():
        assert _me(collector, cookie=cookie) == 401, name
    for headers in (
        {"authorization": "Bearer \u00e9\u00e9\u00e9"},
        {"x-api-key": "\u00ff" * 5000},
        {"authorization": "Bearer"},
        {"authorization": "Basic " + base64.b64encode(b"a:b").decode()},
    ):
        assert _me(collector, headers=headers) == 401, headers
    assert "Traceback" not in collector.log() and '"exception"' not in collector.log()


def test_access_file_faults_mid_run_keep_the_last_good_principals(collector: CollectorProcess) -> None:
    access_file = collector.data_dir / "access.yaml"
    good = access_file.read_text()
    bearer = {"authorization": f"Bearer {CONSOLE_TOKEN}"}
    assert _me(collector, bearer) == 200

    faults = {
        "malformed YAML": lambda: access_file.write_text("principals: [\n"),
        "principals a number": lambda: access_file.write_text("principals: 3\n"),
        "non-hex session secret": lambda: access_file.write_text(
            good.replace("session_secret: ", "session_secret: zz")
        ),
        "unreadable (a directory)": lambda: (access_file.unlink(), access_file.mkdir()),
    }
    for name, make_fault in faults.items():
        make_fault()
        for _ in range(3):
            assert _me(collector, bearer) == 200, name
        if access_file.is_dir():
            shutil.rmtree(access_file)
    failures = [json.loads(line) for line in collector.log().splitlines() if '"console.access_reload_failed"' in line]
    assert [failure["file"] for failure in failures] == [str(access_file)] * len(faults)
    assert all(failure["principals_kept"] == 1 for failure in failures)

    # A good file is read again at once: here one that revokes the principal.
    temporary = access_file.with_suffix(".tmp")
    temporary.write_text(good.split("principals:")[0] + "principals: []\n")
    os.replace(temporary, access_file)
    assert _me(collector, bearer) == 401
