"""Receiver processes of one collector agree on the last good ingest tokens (receiver/otlp/shared_tokens.py):
two TokenAuth objects on one tokens file and one shared state file, as two worker processes hold them."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from receiver.otlp.auth import TokenAuth, TokensFileError, Unauthenticated
from receiver.otlp.factory import shared_tokens

KEEP, GONE, NEW = "shared-keep-token", "shared-gone-token", "shared-new-token"
NAMES = {KEEP: "keeper", GONE: "leaver", NEW: "newcomer"}


def _tokens(*tokens: str) -> str:
    return "tokens:\n" + "".join(f"  - token: {token}\n    name: {NAMES[token]}\n" for token in tokens)


def _accepted(auth: TokenAuth, token: str) -> bool:
    """Whether `auth` takes `token`, as its holder."""
    try:
        return auth.authenticate(f"Bearer {token}").sender.token_name == NAMES[token]
    except Unauthenticated:
        return False


def _failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.getMessage() == "auth.tokens_reload_failed"]


def _two_processes(tmp_path: Path) -> tuple[Path, TokenAuth, TokenAuth]:
    path = tmp_path / "tokens.yaml"
    path.write_text(_tokens(KEEP, GONE))
    shared = shared_tokens(tmp_path)
    first = TokenAuth.from_file(path)
    good = first.good_tokens()
    assert good is not None
    shared.start(good)  # the collector process, before it starts the receiver processes
    return path, first.sharing(shared), TokenAuth.from_file(path).sharing(shared_tokens(tmp_path))


def test_a_process_that_missed_a_good_version_takes_it_when_the_file_turns_faulty(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, a, b = _two_processes(tmp_path)
    path.write_text(_tokens(KEEP, NEW))  # GONE revoked, NEW added; only `a` serves a request meanwhile
    assert _accepted(a, NEW)
    with caplog.at_level(logging.INFO, logger="cc_analytics.auth"):
        path.write_text("tokens:\n  - token: [\n")  # half written
        # `b` never read the version without GONE: alone, it would keep the set it read at start-up.
        assert not _accepted(b, GONE)
        assert _accepted(b, NEW)
        assert not _accepted(a, GONE)
        assert _accepted(a, KEEP)
    # One line for the faulty state, whichever process read it first.
    assert _failures(caplog) == ["auth.tokens_reload_failed"]


def test_each_version_and_each_faulty_state_is_logged_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path, a, b = _two_processes(tmp_path)
    with caplog.at_level(logging.INFO, logger="cc_analytics.auth"):
        path.write_text(_tokens(KEEP))
        for auth in (a, b, a, b):
            assert _accepted(auth, KEEP)
        for faulty in ("tokens:\n  - token: [\n", ""):
            path.write_text(faulty)
            for auth in (a, b, b, a):
                assert _accepted(auth, KEEP)
    events = [record.getMessage() for record in caplog.records]
    assert events == ["auth.tokens_reloaded", "auth.tokens_reload_failed", "auth.tokens_reload_failed"]


def test_a_process_started_while_the_file_is_faulty_starts_from_the_newest_good_version(tmp_path: Path) -> None:
    path, a, _ = _two_processes(tmp_path)
    path.write_text(_tokens(NEW))
    assert _accepted(a, NEW)
    path.write_text("")
    restarted = TokenAuth.from_shared(path, shared_tokens(tmp_path))
    assert _accepted(restarted, NEW)
    assert not _accepted(restarted, KEEP)
    # Nothing recorded (no collector started the receiver processes): the file's fault stops the start.
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(TokensFileError, match="empty"):
        TokenAuth.from_shared(path, shared_tokens(tmp_path / "elsewhere"))


def test_the_state_file_holds_digests_never_a_token(tmp_path: Path) -> None:
    path, a, _ = _two_processes(tmp_path)
    text = (tmp_path / "ingest-tokens.shared.json").read_text()
    assert NAMES[KEEP] in text and all(token not in text for token in (KEEP, GONE))
    assert (tmp_path / "ingest-tokens.shared.json").stat().st_mode & 0o077 == 0
