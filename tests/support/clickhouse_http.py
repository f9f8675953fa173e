"""A ClickHouse server for the tests: ClickHouse's HTTP interface over the embedded engine (chDB).

No ClickHouse server can be installed on the test machines, so the server path of the store
(`storage.dsn=http://user:pass@host:port/db`) is exercised against this: a small HTTP front that speaks the
parts of ClickHouse's HTTP interface clickhouse-connect uses, in front of the same ClickHouse engine chDB
embeds. It is a real engine behind a thin shim, run in its own process (one engine per data directory):

- `GET /ping` and `GET /` answer `Ok.`; any other path is 404.
- A query is the `query` URL parameter, the body, or both (the parameter first, then the body, as
  ClickHouse does); multipart forms (clickhouse-connect's form encoding of large parameters) are read too.
- `database`, `default_format`, `query_id` and server-side parameters (`param_<name>`) are honoured; every
  other URL parameter that is not a transport option is applied as a setting (`SET name = value` on the
  request's own engine connection), so a setting the engine does not know fails as on a server (code 115).
- `INSERT … FORMAT <fmt>` with data in the body: the data is written to a file of the request's own and read
  by `INSERT … FROM INFILE` (`Native` from clickhouse-connect, any input format the engine reads). Not chDB's
  streaming inserter: it drops a block that breaks a table constraint yet reports its rows written, where
  a server answers the error (code 469); FROM INFILE raises it as a server does.
- Request bodies with `Content-Encoding` gzip, deflate, zstd or lz4 (frame) are inflated; responses are
  compressed with the client's preferred of zstd, lz4, gzip and deflate from `Accept-Encoding`, unless
  `enable_http_compression=0`.
- Headers: `X-ClickHouse-Query-Id`, `X-ClickHouse-Format`, `X-ClickHouse-Timezone`,
  `X-ClickHouse-Summary` (read/written rows and bytes, elapsed), `X-ClickHouse-Server-Display-Name`, and
  `X-ClickHouse-Exception-Code` on errors.
- HTTP basic auth (or `X-ClickHouse-User`/`X-ClickHouse-Key`, or `user`/`password` parameters; none means
  user `default` with no password) is checked against the one configured user: anything else is HTTP 403
  with `Code: 516. DB::Exception: <user>: Authentication failed: … (AUTHENTICATION_FAILED)`.
- Errors are answered as ClickHouse does: `Code: N. DB::Exception: … (NAME) (version …)` in the body, the
  code in `X-ClickHouse-Exception-Code`, the HTTP status of ClickHouse's exceptionCodeToHTTPStatus
  (400 for syntax and parse errors, 404 for unknown tables, databases, settings, 403 for authentication,
  500 otherwise).

Not served: sessions (`session_id` is accepted and ignored: every request is its own engine connection),
progress headers, the native TCP protocol, `client_protocol_version` (clickhouse-connect's probe falls back
to protocol 0, as with a proxy that drops the parameter). What the engine defaults to is chDB's default,
which may differ from a server's (chDB has `async_insert=1, wait_for_async_insert=1` by default).

    python -m tests.support.clickhouse_http --port 8123 --data-dir /tmp/ch --user cc --password secret
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import email.parser
import email.policy
import gzip
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests.support.children import free_port, wait_until_ready

REPO_ROOT = Path(__file__).resolve().parents[2]

TEST_USER = "cc_analytics"
TEST_PASSWORD = "s3cret-test-password"

# URL parameters that are part of the HTTP interface, not settings.
_TRANSPORT_PARAMETERS = frozenset(
    {
        "query", "database", "default_format", "user", "password", "query_id", "session_id", "session_timeout",
        "session_check", "compress", "decompress", "buffer_size", "wait_end_of_query", "client_protocol_version",
        "quota_key", "role", "stacktrace", "enable_http_compression", "send_progress_in_http_headers",
        "http_headers_progress_interval_ms", "cancel_http_readonly_queries_on_client_close",
    }
)  # fmt: skip

# ClickHouse's exceptionCodeToHTTPStatus, by error name.
_STATUS_BY_ERROR = {
    **dict.fromkeys(("REQUIRED_PASSWORD",), 401),
    **dict.fromkeys(
        ("UNKNOWN_USER", "WRONG_PASSWORD", "AUTHENTICATION_FAILED", "SET_NON_GRANTED_ROLE", "ACCESS_DENIED"), 403
    ),
    **dict.fromkeys(
        (
            "BAD_ARGUMENTS", "CANNOT_COMPILE_REGEXP", "CANNOT_PARSE_TEXT", "CANNOT_PARSE_ESCAPE_SEQUENCE",
            "CANNOT_PARSE_QUOTED_STRING", "CANNOT_PARSE_DATE", "CANNOT_PARSE_DATETIME", "CANNOT_PARSE_NUMBER",
            "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING", "CANNOT_PARSE_IPV4", "CANNOT_PARSE_IPV6",
            "CANNOT_PARSE_INPUT_ASSERTION_FAILED", "CANNOT_PARSE_UUID", "DUPLICATE_COLUMN", "ILLEGAL_COLUMN",
            "UNKNOWN_ELEMENT_IN_AST", "UNKNOWN_TYPE_OF_AST_NODE", "THERE_IS_NO_COLUMN", "TOO_DEEP_AST",
            "TOO_BIG_AST", "UNEXPECTED_AST_STRUCTURE", "SYNTAX_ERROR", "INCORRECT_DATA", "TYPE_MISMATCH",
            "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
        ),
        400,
    ),
    **dict.fromkeys(
        (
            "UNKNOWN_TABLE", "UNKNOWN_FUNCTION", "UNKNOWN_IDENTIFIER", "UNKNOWN_TYPE", "UNKNOWN_STORAGE",
            "UNKNOWN_DATABASE", "UNKNOWN_SETTING", "UNKNOWN_DIRECTION_OF_SORTING", "UNKNOWN_AGGREGATE_FUNCTION",
            "UNKNOWN_FORMAT", "UNKNOWN_DATABASE_ENGINE", "UNKNOWN_TYPE_OF_QUERY", "UNKNOWN_ROLE",
        ),
        404,
    ),
    "QUERY_IS_TOO_LARGE": 413,
    "NOT_IMPLEMENTED": 501,
    "SOCKET_TIMEOUT": 503,
    "CANNOT_OPEN_FILE": 503,
    "CANNOT_SCHEDULE_TASK": 503,
    "HTTP_LENGTH_REQUIRED": 411,
    "TIMEOUT_EXCEEDED": 408,
    "UNSUPPORTED_MEDIA_TYPE": 415,
}  # fmt: skip

_CONTENT_TYPES = {
    "tabseparated": "text/tab-separated-values; charset=UTF-8",
    "tsv": "text/tab-separated-values; charset=UTF-8",
    "json": "application/json; charset=UTF-8",
    "jsoncompact": "application/json; charset=UTF-8",
    "jsoneachrow": "application/x-ndjson; charset=UTF-8",
    "csv": "text/csv; charset=UTF-8; header=absent",
}

_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)
# An INSERT whose data follows its FORMAT clause (in the body, after the statement's line).
_INSERT_WITH_DATA = re.compile(
    rb"^\s*(INSERT\s+INTO\s.*?)\s+FORMAT\s+(\w+)[ \t]*(?:\r?\n|$)", re.IGNORECASE | re.DOTALL
)
_ERROR_CODE = re.compile(r"Code: (\d+)\. DB::Exception: ")
_RESPONSE_ENCODINGS = ("zstd", "lz4", "gzip", "deflate")


class ClickHouseError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


# ------------------------------------------------------------------------------------------------ codecs


def _lz4_frames(data: bytes) -> bytes:
    import lz4.frame

    out = bytearray()
    while data:
        decompressor = lz4.frame.LZ4FrameDecompressor()
        out += decompressor.decompress(data)
        data = decompressor.unused_data
    return bytes(out)


def _zstd():
    try:
        from compression import zstd  # Python 3.14+
    except ImportError:
        from backports import zstd
    return zstd


def inflate(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "zstd":
        return _zstd().decompress(body)
    if encoding == "lz4":
        return _lz4_frames(body)
    raise ClickHouseError(415, f"Unknown Content-Encoding: {encoding}")


def compress(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.compress(body, compresslevel=3)
    if encoding == "deflate":
        return zlib.compress(body)
    if encoding == "zstd":
        return _zstd().compress(body)
    import lz4.frame

    return lz4.frame.compress(body)


def response_encoding(accept: str) -> str:
    offered = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    return next((name for name in _RESPONSE_ENCODINGS if name in offered), "")


# ------------------------------------------------------------------------------------------------ engine


@dataclass(frozen=True, slots=True)
class SqlRequest:
    statement: str
    data: bytes  # an INSERT's data, after its FORMAT clause
    data_format: str
    database: str
    settings: dict[str, str]
    parameters: dict[str, str]
    default_format: str


@dataclass(frozen=True, slots=True)
class SqlResult:
    body: bytes
    output_format: str
    summary: dict[str, str]


def _written(result: Any, what: str, otherwise: int) -> int:
    """Rows or bytes a statement wrote, as chDB's result counts them; `otherwise` where the build's result has no
    such count (chdb-core-lite 26.5 counts what was read only)."""
    count = getattr(result, f"{what}_written", None)
    return int(count()) if count is not None else otherwise


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Engine:
    """The ClickHouse engine (chDB) on one data directory. Each request gets its own connection, so its
    database and settings are its own and requests run in parallel; one anchor connection stays open for
    the server's life (the engine shuts down when its last connection closes)."""

    def __init__(self, data_dir: Path) -> None:
        from chdb import state

        self._connect = state.connect
        self._path = str(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        self._spool = data_dir.parent / f"{data_dir.name}-inserts"  # each insert's data, while it is read
        self._spool.mkdir(exist_ok=True)
        self._anchor = state.connect(self._path)
        version, timezone = self._anchor.query("SELECT version(), timezone()", "TabSeparated").bytes().split(b"\t")
        self.version = version.decode()
        self.timezone = timezone.decode().strip()
        self._error_names: dict[int, str] = {}
        self._names_lock = threading.Lock()

    def close(self) -> None:
        self._anchor.close()

    def error_name(self, code: int) -> str:
        with self._names_lock:
            if code not in self._error_names:
                result = self._anchor.query(f"SELECT errorCodeToName({int(code)})", "TabSeparated")
                self._error_names[code] = result.bytes().decode().strip()
            return self._error_names[code]

    def execute(self, request: SqlRequest) -> SqlResult:
        connection = self._connect(self._path)
        try:
            if request.database:
                self._run(connection, f"USE {self._identifier(request.database)}")
            for name, value in request.settings.items():
                self._run(connection, f"SET {self._identifier(name)} = {_quote(value)}")
            if request.data_format:
                return self._insert(connection, request)
            return self._query(connection, request)
        finally:
            connection.close()

    @staticmethod
    def _identifier(name: str) -> str:
        return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"

    def _run(self, connection: Any, sql: str, output_format: str = "TabSeparated", parameters: dict | None = None):
        try:
            return connection.query(sql, output_format, params=parameters or {})
        except Exception as exc:  # chDB raises ChdbError / RuntimeError with ClickHouse's own message
            raise self._as_clickhouse_error(str(exc)) from None

    def _as_clickhouse_error(self, text: str) -> ClickHouseError:
        match = _ERROR_CODE.search(text)
        if not match:
            return ClickHouseError(1001, f"Code: 1001. DB::Exception: {text}. (STD_EXCEPTION) (version {self.version})")
        code = int(match.group(1))
        # chDB repeats the prefix ("Code: 115. DB::Exception: Code: 115. DB::Exception: …"): a server says it once.
        message = text[match.start() :]
        doubled = f"Code: {code}. DB::Exception: "
        while message.startswith(doubled + doubled):
            message = message[len(doubled) :]
        if "(version " not in message:
            message = f"{message} (version {self.version})"
        return ClickHouseError(code, message)

    def _query(self, connection: Any, request: SqlRequest) -> SqlResult:
        declared = _TRAILING_FORMAT.search(request.statement)
        output_format = declared.group(1) if declared else request.default_format
        started = time.perf_counter_ns()
        result = self._run(connection, request.statement, request.default_format, request.parameters)
        body = bytes(result.bytes()) if result is not None else b""
        summary = {
            "read_rows": str(result.rows_read()),
            "read_bytes": str(result.bytes_read()),
            "written_rows": str(_written(result, "rows", 0)),
            "written_bytes": str(_written(result, "bytes", 0)),
            "result_rows": "0",
            "result_bytes": str(len(body)),
            "elapsed_ns": str(time.perf_counter_ns() - started),
        }
        return SqlResult(body, output_format, summary)

    def _insert(self, connection: Any, request: SqlRequest) -> SqlResult:
        started = time.perf_counter_ns()
        with tempfile.NamedTemporaryFile(prefix="insert-", dir=self._spool) as data:
            data.write(request.data)
            data.flush()
            statement = f"{request.statement} FROM INFILE {_quote(data.name)} FORMAT {request.data_format}"
            result = self._run(connection, statement)
        # What an INSERT … FROM INFILE reads is what it writes, where the engine's result does not tell.
        rows = _written(result, "rows", result.rows_read()) if result is not None else 0
        size = _written(result, "bytes", result.bytes_read()) if result is not None else 0
        summary = {
            "read_rows": str(rows),
            "read_bytes": str(size),
            "written_rows": str(rows),
            "written_bytes": str(size),
            "result_rows": "0",
            "result_bytes": "0",
            "elapsed_ns": str(time.perf_counter_ns() - started),
        }
        return SqlResult(b"", request.default_format, summary)


# ------------------------------------------------------------------------------------------------ HTTP


def _form_fields(body: bytes, content_type: str) -> dict[str, str]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[str(name)] = part.get_payload(decode=True).decode()
    return fields


def sql_request(parameters: dict[str, str], body: bytes) -> SqlRequest:
    """The statement, its data and its context, from the URL parameters and the (inflated) body."""
    query = parameters.get("query", "")
    statement, data, data_format = query, b"", ""
    if query and body:
        match = _TRAILING_FORMAT.search(query)
        if re.match(r"\s*INSERT\b", query, re.IGNORECASE) and match:
            statement, data, data_format = query[: match.start()].rstrip(), body, match.group(1)
        else:
            statement = query + "\n" + body.decode()
    elif body:
        match = _INSERT_WITH_DATA.match(body)
        if match:
            statement, data_format, data = match.group(1).decode(), match.group(2).decode(), body[match.end() :]
        else:
            statement = body.decode()
    if not statement.strip():
        raise ClickHouseError(62, "Code: 62. DB::Exception: Empty query. (SYNTAX_ERROR)")
    return SqlRequest(
        statement=statement,
        data=data,
        data_format=data_format,
        database=parameters.get("database", ""),
        settings={
            name: value
            for name, value in parameters.items()
            if name not in _TRANSPORT_PARAMETERS and not name.startswith("param_")
        },
        parameters={name[len("param_") :]: value for name, value in parameters.items() if name.startswith("param_")},
        default_format=parameters.get("default_format", "") or "TabSeparated",
    )


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ClickHouseHttpd

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def _handle(self) -> None:
        query_id = ""
        try:
            url = urlsplit(self.path)
            parameters = dict(parse_qsl(url.query, keep_blank_values=True))
            query_id = parameters.get("query_id") or str(uuid.uuid4())
            body = inflate(self._read_body(), self.headers.get("Content-Encoding", ""))
            if url.path == "/ping" or url.path == "/replicas_status" or (url.path == "/" and not body
                                                                          and "query" not in parameters):  # fmt: skip
                self._answer(200, b"Ok.\n", {"Content-Type": "text/html; charset=UTF-8"})
                return
            if url.path != "/":
                self._answer(404, f"There is no handle {url.path}\n".encode(), {})
                return
            content_type = self.headers.get("Content-Type", "")
            if content_type.startswith("multipart/form-data"):
                parameters.update(_form_fields(body, content_type))
                body = b""
            self._authenticate(parameters)
            result = self.server.engine.execute(sql_request(parameters, body))
            self._answer_result(result, query_id, parameters)
        except ClickHouseError as exc:
            self._answer_error(exc, query_id)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as exc:  # a request the shim cannot read: answered as a server's internal error
            version = self.server.engine.version
            self._answer_error(
                ClickHouseError(1001, f"Code: 1001. DB::Exception: {exc}. (STD_EXCEPTION) (version {version})"),
                query_id,
            )

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return bytes(chunks)
                chunks += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _authenticate(self, parameters: dict[str, str]) -> None:
        user, password = "default", ""
        authorization = self.headers.get("Authorization", "")
        if authorization.lower().startswith("basic "):
            decoded = base64.b64decode(authorization[6:].strip()).decode()
            user, _, password = decoded.partition(":")
        elif self.headers.get("X-ClickHouse-User"):
            user, password = self.headers["X-ClickHouse-User"], self.headers.get("X-ClickHouse-Key", "")
        elif "user" in parameters:
            user, password = parameters["user"], parameters.get("password", "")
        if (user, password) != (self.server.user, self.server.password):
            raise ClickHouseError(
                516,
                f"Code: 516. DB::Exception: {user}: Authentication failed: password is incorrect, or there is no "
                f"user with such name. (AUTHENTICATION_FAILED) (version {self.server.engine.version})",
            )

    def _answer_result(self, result: SqlResult, query_id: str, parameters: dict[str, str]) -> None:
        headers = {
            "Content-Type": _CONTENT_TYPES.get(result.output_format.lower(), "application/octet-stream"),
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Format": result.output_format,
            "X-ClickHouse-Timezone": self.server.engine.timezone,
            "X-ClickHouse-Summary": json.dumps(result.summary, separators=(",", ":")),
        }
        body = result.body
        encoding = response_encoding(self.headers.get("Accept-Encoding", ""))
        if body and encoding and parameters.get("enable_http_compression", "1") != "0":
            body = compress(body, encoding)
            headers["Content-Encoding"] = encoding
        self._answer(200, body, headers)

    def _answer_error(self, exc: ClickHouseError, query_id: str) -> None:
        name = "AUTHENTICATION_FAILED" if exc.code == 516 else self.server.engine.error_name(exc.code)
        status = _STATUS_BY_ERROR.get(name, 500)
        headers = {
            "Content-Type": "text/plain; charset=UTF-8",
            "X-ClickHouse-Exception-Code": str(exc.code),
            "X-ClickHouse-Query-Id": query_id,
        }
        self._answer(status, (str(exc) + "\n").encode(), headers)

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        headers = {"X-ClickHouse-Server-Display-Name": socket.gethostname(), **headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Keep-Alive", "timeout=10")
        self.end_headers()
        self.wfile.write(body)


class ClickHouseHttpd(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], engine: Engine, user: str, password: str) -> None:
        super().__init__(address, Handler)
        self.engine = engine
        self.user = user
        self.password = password


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.clickhouse_http", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--user", default=TEST_USER)
    parser.add_argument("--password", default=TEST_PASSWORD)
    arguments = parser.parse_args(argv)
    engine = Engine(arguments.data_dir)
    httpd = ClickHouseHttpd((arguments.host, arguments.port), engine, arguments.user, arguments.password)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=httpd.shutdown, daemon=True).start())
    print(f"listening on {arguments.host}:{arguments.port}, ClickHouse {engine.version}", flush=True)
    try:
        httpd.serve_forever()
    finally:
        httpd.server_close()
        engine.close()
    return 0


# ------------------------------------------------------------------------------------------------ test handle


@dataclass
class ClickHouseHttpServer:
    """The test server as a child process on a free loopback port."""

    data_dir: Path
    user: str = TEST_USER
    password: str = TEST_PASSWORD
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def dsn(self, database: str = "default", password: str | None = None) -> str:
        secret = self.password if password is None else password
        return f"http://{self.user}:{secret}@127.0.0.1:{self.port}/{database}"

    def start(self, timeout_s: float = 60.0) -> ClickHouseHttpServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-clickhouse-http.log"
        with self.log_path.open("ab") as log_file:  # the child writes to its own copy of the descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.support.clickhouse_http", "--port", str(self.port),
                 "--data-dir", str(self.data_dir), "--user", self.user, "--password", self.password],
                cwd=REPO_ROOT,
                env={key: value for key, value in os.environ.items() if not key.startswith("CC_ANALYTICS_")},
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_until_ready(
            "test ClickHouse server", self.process, lambda: httpx.get(f"{self.url}/ping", timeout=1).status_code == 200,
            timeout_s, self.log, self.kill, poll_s=0.05,
        )  # fmt: skip
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def stop(self, timeout_s: float = 30.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def client(self, database: str = "default", **options: Any):
        """A clickhouse-connect client of this server (for a test's own reads)."""
        import clickhouse_connect

        return clickhouse_connect.get_client(dsn=self.dsn(database), autogenerate_session_id=False, **options)

    def new_database(self, prefix: str = "test") -> str:
        """A fresh database name (created by whoever connects to it first)."""
        return f"{prefix}_{uuid.uuid4().hex[:12]}"


# ------------------------------------------------------------------------------------------------ fixtures
# Import them into a test module to use them there.


@pytest.fixture(scope="session")
def clickhouse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseHttpServer]:
    """One test server for the session; each test or module works in a database of its own."""
    server = ClickHouseHttpServer(data_dir=tmp_path_factory.mktemp("clickhouse-server") / "data").start()
    try:
        yield server
    finally:
        server.kill()


@contextmanager
def collectors_on(dsn: str) -> Iterator[str]:
    """Every CollectorProcess started meanwhile stores into `dsn`."""
    from tests.support import collector

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(collector, "STORE_DSN", dsn)
        yield dsn


def embedded_store_database(store_dir: str | Path) -> str:
    """The server database that stands for the embedded store in `store_dir`: the same directory, the same
    database, so a collector restarted on its data directory finds its store again, and a fresh directory (every
    test's tmp_path) a fresh database."""
    return "store_" + hashlib.sha256(str(Path(store_dir).resolve()).encode()).hexdigest()[:16]


@contextmanager
def embedded_stores_on(server: ClickHouseHttpServer) -> Iterator[None]:
    """Every store that would be embedded is a database of `server` meanwhile (tests/conftest.py,
    CC_ANALYTICS_TEST_STORE=server), so a suite runs unchanged on the server path:

    - a CollectorProcess gets `storage.dsn` of its data directory's database (`<data_dir>/chdb` is where its
      embedded store would live);
    - a ClickHouseStore of this process opened on `chdb://<dir>` opens that database's DSN instead, so it takes
      the server path of the store throughout (its pool, its health probe);
    - a test's own clickhouse-connect client of `chdb://<dir>` (a read of what a stopped collector stored)
      reads that database.
    """
    import clickhouse_connect

    from exporters.clickhouse import ClickHouseStore
    from tests.support import collector

    def dsn_of(store_dir: str | Path) -> str:
        return server.dsn(embedded_store_database(store_dir))

    def dsn_of_embedded(dsn: str) -> str:
        return dsn_of(dsn.removeprefix("chdb:").removeprefix("//"))

    real_get_client = clickhouse_connect.get_client
    real_store_init = ClickHouseStore.__init__

    def get_client(*args: Any, **options: Any) -> Any:
        dsn = options.get("dsn")
        if isinstance(dsn, str) and dsn.startswith("chdb:"):
            options = {**options, "dsn": dsn_of_embedded(dsn), "autogenerate_session_id": False}
        return real_get_client(*args, **options)

    def store_init(store: ClickHouseStore, config: Any) -> None:
        if config.dsn.startswith("chdb:"):
            config = dataclasses.replace(config, dsn=dsn_of_embedded(config.dsn))
        real_store_init(store, config)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(collector, "STORE_DSN", dsn_of)
        patch.setattr(clickhouse_connect, "get_client", get_client)
        patch.setattr(ClickHouseStore, "__init__", store_init)
        yield


if __name__ == "__main__":
    sys.exit(main())
