"""Fail closed on bad files: `cc-analytics run` with a malformed config, tokens, directory, access or initial
owner token file stops before opening anything, with exit code 2 and one line on stderr naming the file, the
entry and what is wrong; never a traceback. Runs the real command (`python -m collector run`)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.collector import REPO_ROOT, free_port

GOOD_SHA256 = "a" * 64


@dataclass(frozen=True)
class BadFile:
    kind: str  # tokens | access | directory | config | owner | scrape
    content: str | bytes | None  # None: the file does not exist; b"": a directory stands where the file should be
    words: tuple[str, ...]  # what the line must say, besides the file's path


CASES: dict[str, BadFile] = {
    "tokens-bad-sha256-hex": BadFile("tokens", f"tokens:\n  - sha256: {'z' * 64}\n    name: ci\n", ("tokens[0]", "sha256", "hexadecimal")),
    "tokens-list-is-a-number": BadFile("tokens", "tokens: 5\n", ("tokens must be a list", "int")),
    "tokens-entry-is-text": BadFile("tokens", "tokens:\n  - just-a-token\n", ("tokens[0]", "mapping")),
    "tokens-misspelt-key": BadFile("tokens", "tokens:\n  - token: abcdefgh\n    organisation_id: org-a\n", ("tokens[0]", "organisation_id")),
    "tokens-token-is-a-number": BadFile("tokens", "tokens:\n  - token: 0x1F\n", ("tokens[0]", "token must be a string")),
    "tokens-second-entry-without-token": BadFile("tokens", "tokens:\n  - token: abcdefgh\n  - name: ci\n", ("tokens[1]", "token or sha256")),
    "tokens-duplicate": BadFile("tokens", "tokens:\n  - token: abcdefgh\n  - sha256: " + __import__("hashlib").sha256(b"abcdefgh").hexdigest() + "\n", ("tokens[1]", "same token as tokens[0]")),
    "tokens-domains-not-a-list": BadFile("tokens", "tokens:\n  - token: abcdefgh\n    allowed_email_domains: 5\n", ("tokens[0]", "allowed_email_domains")),
    "tokens-not-yaml": BadFile("tokens", "tokens: [\n", ("not valid YAML", "line 2")),
    "tokens-empty-file": BadFile("tokens", "", ("empty", "tokens: []")),
    "tokens-not-utf8": BadFile("tokens", b"\xff\xfe\x00tokens", ("cannot read", "UTF-8")),
    "tokens-missing": BadFile("tokens", None, ("cannot read", "No such file")),
    "access-session-secret-not-hex": BadFile("access", "session_secret: not-hex-at-all\nprincipals: []\n", ("session_secret", "hexadecimal")),
    "access-principals-is-a-number": BadFile("access", "principals: 3\n", ("principals must be a list", "int")),
    "access-bad-sha256": BadFile("access", "principals:\n  - name: a\n    role: admin\n    sha256: xyz\n", ("principals[0]", "sha256")),
    "access-bad-role": BadFile("access", f"principals:\n  - name: a\n    role: emperor\n    sha256: {GOOD_SHA256}\n", ("principals[0]", "emperor")),
    "access-is-a-directory": BadFile("access", b"", ("cannot read",)),
    "directory-is-a-number": BadFile("directory", "directory: 7\n", ("directory must be a list",)),
    "directory-entry-without-member": BadFile("directory", "directory:\n  - user_id: u1\n", ("directory[0]", "member")),
    "directory-bad-kind": BadFile("directory", "directory:\n  - user_id: u1\n    member: a@x.example\n    kind: robot\n", ("directory[0]", "kind")),
    "directory-missing": BadFile("directory", None, ("cannot read",)),
    "config-not-yaml": BadFile("config", "otlp: {grpc_port: 4317\n", ("not valid YAML",)),
    "config-misspelt-option": BadFile("config", "auth:\n  tokens_fil: tokens.yaml\n", ("unknown option", "auth.tokens_fil")),
    "config-port-is-a-list": BadFile("config", "api:\n  port: [8080]\n", ("api.port",)),
    "owner-token-file-missing": BadFile("owner", None, ("cannot read",)),
    "owner-token-bad-sha256": BadFile("owner", "sha256:nothex\n", ("sha256", "hexadecimal")),
    "owner-token-too-short": BadFile("owner", "short\n", ("at least 16 characters",)),
    "scrape-token-missing": BadFile("scrape", None, ("metrics.scrape_token_file", "cannot read")),
    "scrape-token-empty": BadFile("scrape", "\n", ("metrics.scrape_token_file", "empty")),
    "scrape-token-not-utf8": BadFile("scrape", b"\xff\xfe", ("metrics.scrape_token_file", "UTF-8")),
}  # fmt: skip


def _place(bad: BadFile, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Writes the bad file where its kind is read from; returns its path and the environment pointing at it."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    path = data_dir / "access.yaml" if bad.kind == "access" else tmp_path / f"{bad.kind}.yaml"
    if bad.content == b"":
        path.mkdir()
    elif isinstance(bad.content, bytes):
        path.write_bytes(bad.content)
    elif bad.content is not None:
        path.write_text(bad.content)
    variable = {
        "tokens": "CC_ANALYTICS_AUTH_TOKENS_FILE",
        "directory": "CC_ANALYTICS_IDENTITY_DIRECTORY_FILE",
        "config": "CC_ANALYTICS_CONFIG",
        "owner": "CC_ANALYTICS_CONSOLE_INITIAL_OWNER_TOKEN_FILE",
        "scrape": "CC_ANALYTICS_METRICS_SCRAPE_TOKEN_FILE",
    }.get(bad.kind)
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CC_ANALYTICS_")}
    environment.update(
        {
            "CC_ANALYTICS_DATA_DIR": str(data_dir),
            "CC_ANALYTICS_OTLP_GRPC_PORT": str(free_port()),
            "CC_ANALYTICS_OTLP_HTTP_PORT": str(free_port()),
            "CC_ANALYTICS_API_PORT": str(free_port()),
            "CC_ANALYTICS_METRICS_PORT": str(free_port()),
        }
    )
    if variable:
        environment[variable] = str(path)
    return path, environment


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_file_stops_the_collector_with_one_line_and_exit_2(case: str, tmp_path: Path) -> None:
    bad = CASES[case]
    path, environment = _place(bad, tmp_path)
    completed = subprocess.run(
        [sys.executable, "-m", "collector", "run"],
        cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    output = completed.stdout + completed.stderr
    assert "Traceback" not in output, output
    assert completed.returncode == 2, output
    lines = completed.stderr.splitlines()
    assert len(lines) == 1, completed.stderr
    assert completed.stdout == ""
    line = lines[0]
    assert line.startswith("cc-analytics: ") and str(path) in line, line
    for word in bad.words:
        assert word in line, (word, line)
    # Nothing was opened: no store, no access file created, no listener.
    assert not (tmp_path / "data" / "chdb").exists()


def test_a_token_never_appears_in_the_error(tmp_path: Path) -> None:
    secret = "very-secret-ingest-token"
    bad = BadFile("tokens", f"tokens:\n  - token: {secret}\n    organisation_id: org-a\n", ("organisation_id",))
    _, environment = _place(bad, tmp_path)
    completed = subprocess.run(
        [sys.executable, "-m", "collector", "run"],
        cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert completed.returncode == 2 and secret not in completed.stderr + completed.stdout


def test_access_command_with_a_malformed_access_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = CASES["access-session-secret-not-hex"]
    path, environment = _place(bad, tmp_path)
    completed = subprocess.run(
        [sys.executable, "-m", "collector", "access", "list", "--data-dir", str(tmp_path / "data")],
        cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert completed.returncode == 2 and "Traceback" not in completed.stderr, completed.stderr
    assert len(completed.stderr.splitlines()) == 1 and str(path) in completed.stderr
