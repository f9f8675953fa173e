"""A scripted local stand-in for the Anthropic Messages API, used to drive the real Claude Code CLI.

The script (one user prompt, three main-loop replies):

1. a ``tool_use`` block for ``Write`` creating ``hello.py`` (5 lines) in the working directory;
2. a ``tool_use`` block for ``Edit`` replacing one line of it with two lines;
3. a final text.

Every reply reports the same usage (see ``USAGE``). The state of the script is read from the request
itself (which of our tool_use ids already have a tool_result in ``messages``), so the server is stateless
and a retried request gets the same answer. Requests that are not main-loop turns (no ``Write`` tool
offered, e.g. title generation / quota probes / haiku side calls) get a short text reply. Every request is
recorded (``FakeAnthropic.requests``) with its classification so a test can count how many main-loop
replies were actually sent.

Usage::

    with fake_anthropic_api(workdir=tmp) as api:
        env["ANTHROPIC_BASE_URL"] = api.url
        ...
        api.main_replies()   # -> number of main-loop replies sent
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

USAGE = {
    "input_tokens": 1200,
    "output_tokens": 150,
    "cache_read_input_tokens": 3000,
    "cache_creation_input_tokens": 500,
}

FILE_NAME = "hello.py"
FILE_CONTENT = 'def greet(name):\n    greeting = "Hello, " + name\n    return greeting\n\nprint(greet("world"))\n'
# A single-line replacement, as the tool sees it (no trailing newline: old_string must be unique).
EDIT_OLD_STRING = '    greeting = "Hello, " + name'
EDIT_NEW_STRING = '    greeting = "Hello, " + name.strip()\n    greeting = greeting + "!"'
FILE_AFTER_EDIT = FILE_CONTENT.replace(EDIT_OLD_STRING, EDIT_NEW_STRING)
FINAL_TEXT = "Done: hello.py written and edited."
SIDE_TEXT = "Hello file"
PROMPT = "Create hello.py and edit it."

WRITE_ID_PREFIX = "toolu_fakewrite"
EDIT_ID_PREFIX = "toolu_fakeedit"


@dataclass(frozen=True)
class ScriptFigures:
    """What the script implies, in the units Claude Code reports."""

    main_replies: int = 3
    write_lines: int = 5  # lines in the file written by turn 1
    edit_lines_removed: int = 1  # turn 2 replaces one line ...
    edit_lines_added: int = 2  # ... with two lines
    # Claude Code 2.1.331 counts a Write's lines as content.split("\n"), so the trailing newline of the
    # 5-line file counts as a 6th added line (observed: the same Write without the final newline reports 5);
    # the Edit adds 2 and removes 1. Hence 8 added / 1 removed, as in /work/shared/TELEMETRY.md.
    cli_lines_added: int = 8
    cli_lines_removed: int = 1
    tools: tuple[str, ...] = ("Write", "Edit")

    @property
    def naive_lines_added(self) -> int:  # 7: what a plain line diff would say
        return self.write_lines + self.edit_lines_added

    def tokens(self, replies: int | None = None) -> dict[str, int]:
        n = self.main_replies if replies is None else replies
        return {
            "input": USAGE["input_tokens"] * n,
            "output": USAGE["output_tokens"] * n,
            "cacheRead": USAGE["cache_read_input_tokens"] * n,
            "cacheCreation": USAGE["cache_creation_input_tokens"] * n,
        }


SCRIPT = ScriptFigures()


@dataclass
class RecordedRequest:
    t: float
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    kind: str = "other"  # main | side | other
    turn: int | None = None  # 1..3 for main turns
    stream: bool | None = None
    model: str | None = None
    reply: Any = None  # short summary of what we answered
    status: int = 200

    def to_json(self) -> dict:
        return {
            "t": self.t,
            "method": self.method,
            "path": self.path,
            "kind": self.kind,
            "turn": self.turn,
            "stream": self.stream,
            "model": self.model,
            "status": self.status,
            "reply": self.reply,
        }


def _tool_names(body: dict) -> list[str]:
    return [t.get("name", "") for t in body.get("tools") or [] if isinstance(t, dict)]


def _system_text(body: dict) -> str:
    system = body.get("system")
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        return "\n".join(b.get("text", "") for b in system if isinstance(b, dict))
    return ""


def _all_text(body: dict) -> str:
    """System prompt plus every text block of every message."""
    parts = [_system_text(body)]
    for msg in body.get("messages") or []:
        content = msg.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    return "\n".join(parts)


def _tool_results(body: dict) -> dict[str, dict]:
    """tool_use_id -> tool_result block, over the whole conversation."""
    out: dict[str, dict] = {}
    for msg in body.get("messages") or []:
        content = msg.get("content")
        if isinstance(content, list):
            for block in content:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    out[str(block.get("tool_use_id"))] = block
    return out


class FakeAnthropic:
    def __init__(self, workdir: Path | str | None = None, host: str = "127.0.0.1", port: int = 0):
        self.workdir = Path(workdir) if workdir is not None else None
        self.requests: list[RecordedRequest] = []
        self.unknown_paths: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeAnthropic:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-anthropic", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ----------------------------------------------------------------- results
    def main_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.kind == "main"]

    def main_replies(self) -> int:
        """Number of main-loop replies sent (each carries USAGE)."""
        return len(self.main_requests())

    def side_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.kind == "side"]

    def request_log(self) -> list[dict]:
        with self._lock:
            return [r.to_json() for r in self.requests]

    # ----------------------------------------------------------------- script
    def _workdir_for(self, body: dict) -> Path:
        """The configured workdir, else the one the CLI states in its prompt ("Primary working directory: ..."
        sits in a role=system *message* in 2.1.331, not in the top-level system prompt)."""
        if self.workdir is not None:
            return self.workdir
        m = re.search(r"(?:Primary w|W)orking directory:[ \t]*(\S+)", _all_text(body))
        if m:
            return Path(m.group(1))
        return Path.cwd()

    def classify(self, body: dict) -> tuple[str, int | None]:
        if not isinstance(body, dict) or "Write" not in _tool_names(body):
            return "side", None
        results = _tool_results(body)
        if any(k.startswith(EDIT_ID_PREFIX) for k in results):
            return "main", 3
        if any(k.startswith(WRITE_ID_PREFIX) for k in results):
            return "main", 2
        return "main", 1

    def reply_content(self, kind: str, turn: int | None, body: dict) -> tuple[list[dict], str]:
        """Content blocks and stop_reason for a classified request."""
        if kind == "side":
            return [{"type": "text", "text": SIDE_TEXT}], "end_turn"
        path = str(self._workdir_for(body) / FILE_NAME)
        if turn == 1:
            block = {
                "type": "tool_use",
                "id": f"{WRITE_ID_PREFIX}{uuid.uuid4().hex[:12]}",
                "name": "Write",
                "input": {"file_path": path, "content": FILE_CONTENT},
            }
            return [block], "tool_use"
        if turn == 2:
            block = {
                "type": "tool_use",
                "id": f"{EDIT_ID_PREFIX}{uuid.uuid4().hex[:12]}",
                "name": "Edit",
                "input": {
                    "file_path": path,
                    "old_string": EDIT_OLD_STRING,
                    "new_string": EDIT_NEW_STRING,
                    "replace_all": False,
                },
            }
            return [block], "tool_use"
        return [{"type": "text", "text": FINAL_TEXT}], "end_turn"

    # ----------------------------------------------------------------- HTTP
    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):  # quiet
                pass

            def _read_body(self) -> Any:
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                if not raw:
                    return None
                try:
                    return json.loads(raw)
                except ValueError:
                    return raw.decode("utf-8", "replace")

            def _send_json(self, obj: Any, status: int = 200) -> None:
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("request-id", f"req_fake{uuid.uuid4().hex[:16]}")
                self.end_headers()
                self.wfile.write(data)

            def _record(self, body: Any) -> RecordedRequest:
                rec = RecordedRequest(
                    t=time.time(),
                    method=self.command,
                    path=self.path,
                    headers={k: v for k, v in self.headers.items()},
                    body=body,
                )
                with fake._lock:
                    fake.requests.append(rec)
                return rec

            def do_GET(self):
                rec = self._record(None)
                path = self.path.split("?")[0]
                if path.startswith("/v1/models"):
                    rec.reply = "models"
                    self._send_json({"data": [], "has_more": False, "first_id": None, "last_id": None})
                    return
                fake.unknown_paths.append(f"GET {self.path}")
                rec.reply = "unknown"
                rec.status = 404
                self._send_json({"type": "error", "error": {"type": "not_found_error", "message": "not found"}}, 404)

            def do_HEAD(self):
                self._record(None)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self):
                body = self._read_body()
                rec = self._record(body)
                path = self.path.split("?")[0]
                if path == "/v1/messages/count_tokens":
                    rec.reply = "count_tokens"
                    self._send_json({"input_tokens": USAGE["input_tokens"]})
                    return
                if path != "/v1/messages":
                    fake.unknown_paths.append(f"POST {self.path}")
                    rec.reply = "unknown"
                    rec.status = 404
                    self._send_json(
                        {"type": "error", "error": {"type": "not_found_error", "message": "not found"}}, 404
                    )
                    return
                body = body if isinstance(body, dict) else {}
                kind, turn = fake.classify(body)
                content, stop_reason = fake.reply_content(kind, turn, body)
                rec.kind, rec.turn = kind, turn
                rec.stream = bool(body.get("stream"))
                rec.model = body.get("model")
                rec.reply = [b.get("name") if b["type"] == "tool_use" else b.get("text") for b in content]
                message = {
                    "id": f"msg_fake{uuid.uuid4().hex[:20]}",
                    "type": "message",
                    "role": "assistant",
                    "model": body.get("model") or "claude-sonnet-4-5",
                    "content": content,
                    "stop_reason": stop_reason,
                    "stop_sequence": None,
                    "usage": dict(USAGE, service_tier="standard"),
                }
                if rec.stream:
                    self._stream(message)
                else:
                    self._send_json(message)

            def _stream(self, message: dict) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.send_header("request-id", f"req_fake{uuid.uuid4().hex[:16]}")
                self.end_headers()
                self.close_connection = True

                def ev(name: str, data: dict) -> None:
                    self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
                    self.wfile.flush()

                start = dict(message, content=[], stop_reason=None)
                start["usage"] = dict(USAGE, output_tokens=1, service_tier="standard")
                ev("message_start", {"type": "message_start", "message": start})
                for i, block in enumerate(message["content"]):
                    if block["type"] == "text":
                        ev(
                            "content_block_start",
                            {"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}},
                        )
                        ev(
                            "content_block_delta",
                            {
                                "type": "content_block_delta",
                                "index": i,
                                "delta": {"type": "text_delta", "text": block["text"]},
                            },
                        )
                    else:
                        ev(
                            "content_block_start",
                            {
                                "type": "content_block_start",
                                "index": i,
                                "content_block": {
                                    "type": "tool_use",
                                    "id": block["id"],
                                    "name": block["name"],
                                    "input": {},
                                },
                            },
                        )
                        ev(
                            "content_block_delta",
                            {
                                "type": "content_block_delta",
                                "index": i,
                                "delta": {"type": "input_json_delta", "partial_json": json.dumps(block["input"])},
                            },
                        )
                    ev("content_block_stop", {"type": "content_block_stop", "index": i})
                ev(
                    "message_delta",
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                        "usage": dict(USAGE),
                    },
                )
                ev("message_stop", {"type": "message_stop"})

        return Handler


@contextlib.contextmanager
def fake_anthropic_api(workdir: Path | str | None = None) -> Iterator[FakeAnthropic]:
    """Start the fake Messages API on 127.0.0.1:<free port>; stop it on exit."""
    fake = FakeAnthropic(workdir=workdir)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


if __name__ == "__main__":  # manual use: python fake_anthropic.py
    with fake_anthropic_api() as api:
        print(api.url, flush=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
