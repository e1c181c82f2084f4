"""A stand-in for both log-store faces, around one chdb session (reference/log-stores.md).

`StoreServer(session, clock).start()` listens on 127.0.0.1 (a thread, stdlib
`ThreadingHTTPServer`) and executes the real SQL in chdb, so what the clients send is checked by a
real ClickHouse engine. Two faces on one port:

- Supabase Management API, `GET /v1/projects/{ref}/analytics/endpoints/logs`: Bearer token, GET
  only (POST 404, `logs.all` 410), `iso_timestamp_start`/`iso_timestamp_end` required (else
  `Backend error!` as HTTP 200), a range over 24 h cut to its oldest 24 h, the end bound
  inclusive, `SELECT *` and `DESCRIBE` refused, errors as HTTP 200 `{"result": null, "error"}`,
  at most 1000 rows (silently), timestamps as naive ISO with microseconds, 10 requests a minute
  per token and project with `x-ratelimit-*` headers and 429 + `retry-after`.
- ClickHouse HTTP interface, `POST /` (SQL in the body, or `?query=`) and `GET /ping`: users by
  `X-ClickHouse-User`/`X-ClickHouse-Key`, Basic auth or `user`/`password` parameters;
  `param_<name>` values handed to chdb as they came (chdb reads them in the "escaped" format, as
  the server does); any other parameter is a setting (refused
  for a readonly user, else applied and undone after the result is drained); a trailing
  `FORMAT` wins over `default_format`; errors before the body as status + `X-ClickHouse-
  Exception-Code` + `Code: N. DB::Exception: ... (NAME) (version V)`; results streamed chunked,
  a late error appended in the `__exception__` frame tagged by `X-ClickHouse-Exception-Tag`;
  `wait_end_of_query=1` buffers the reply (real status, complete `X-ClickHouse-Summary`).

Fault knobs (`server.faults`) and a fast clock (`FakeClock`, shared with the client's settings so
that waits cost nothing) make every failure reproducible; `server.requests` records what came.
"""

from __future__ import annotations

import base64
import json
import math
import random
import re
import socket
import string
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

VERSION = "26.9.2.1"
SUPABASE_PATH = re.compile(r"^/v1/projects/([^/]+)/analytics/endpoints/(logs|logs\.all)$")
BACKEND_ERROR = "Backend error! Retry your query. Please contact support if this continues."
ROW_CAP = 1000
MAX_RANGE = timedelta(hours=24)
RESERVED = {
    "query", "database", "default_format", "user", "password", "wait_end_of_query",
    "buffer_size", "query_id", "session_id", "session_timeout", "session_check", "compress",
    "decompress", "quota_key", "role", "stacktrace",
}  # fmt: skip
# ClickHouse error code -> HTTP status (src/Server/HTTP/exceptionCodeToHTTPStatus.cpp).
STATUS_OF_CODE = {
    194: 401,
    192: 403, 193: 403, 516: 403, 497: 403,
    6: 400, 8: 400, 36: 400, 44: 400, 53: 400, 62: 400, 427: 400,
    46: 404, 47: 404, 50: 404, 60: 404, 73: 404, 81: 404, 115: 404,
    48: 501, 159: 408,
}  # fmt: skip
_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)
_CODE = re.compile(r"Code: (\d+)\.")


class FakeClock:
    """Wall time that only moves when someone sleeps (or `advance`s): waits cost nothing."""

    def __init__(self, start: datetime) -> None:
        self._now = start.timestamp()
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def now(self) -> datetime:
        with self._lock:
            return datetime.fromtimestamp(self._now, tz=UTC)

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self._now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


@dataclass
class Faults:
    """What goes wrong next. Counters count down as requests use them."""

    token_expired: bool = False
    expire_after: int | None = None  # the token is rejected after N Supabase requests
    rate_limit: int | None = 10  # Supabase requests per minute per token and project
    storm: int = 0  # next N Supabase requests: 429
    storm_retry_after: int = 7
    backend_errors: int = 0  # next N Supabase queries: 200 + Backend error
    dark: tuple[datetime, datetime] | None = (
        None  # Supabase ranges overlapping: always Backend error
    )
    cut_replies: int = 0  # next N replies (either face): half the body, then the connection closes
    late_errors: int = 0  # next N ClickHouse queries: half the body, then an exception block
    late_errors_in: str = ""  # ... only queries whose SQL contains this text
    die_after: int | None = None  # after N requests, every connection closes without a reply
    readonly: bool = True  # the ClickHouse user may not change settings


@dataclass
class Recorded:
    """One request as it arrived."""

    face: str
    method: str
    path: str
    params: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int = 0
    rows: int | None = None  # Supabase: result rows answered


def _iso(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _sql_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclass
class StoreServer:
    """Both faces on one loopback port. `start()`, then `url`; `stop()` at the end."""

    session: Any  # chdb.session.Session
    clock: FakeClock
    token: str = "sbp_" + "0123456789abcdef" * 2 + "ab12cd34"
    project: str = "abcdefghijklmnopqrst"
    ch_user: str = "reader"
    ch_password: str = "s3cr3t-Pa55w0rd!"
    supabase_table: str = "supa.logs_all"
    fuzz_project: str = "fuzzfuzzfuzzfuzzfuzz"  # a second project, served from supa.logs_fuzz
    faults: Faults = field(default_factory=Faults)
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._rates: dict[tuple[str, str, int], int] = {}
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> StoreServer:
        server = self

        class Handler(_Handler):
            store = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        assert self._httpd is not None
        return int(self._httpd.server_address[1])

    def reset(self, clock: FakeClock | None = None) -> None:
        """Fresh faults, records and rate windows (and a new clock) for the next test."""
        with self._lock:
            self.faults = Faults()
            self.requests.clear()
            self._rates.clear()
            if clock is not None:
                self.clock = clock

    # -- engine ----------------------------------------------------------------------------

    def execute(self, sql: str, fmt: str, params: dict[str, str] | None = None) -> Any:
        """Run `sql` in the shared chdb session (one query at a time)."""
        with self._lock:
            return self.session.query(sql, fmt, params=params or None)

    def supabase_rows(
        self, sql: str, start: datetime, end: datetime, table: str | None = None
    ) -> list[dict[str, Any]]:
        """What the logs endpoint answers: `sql` over `logs` restricted to [start, end]."""
        if re.search(r"(?i)\bselect\s+\*", sql) or re.match(r"(?i)\s*(describe|desc)\b", sql):
            raise ValueError("SELECT * and DESCRIBE are not allowed")
        scoped = (
            f"(SELECT * FROM {table or self.supabase_table} "  # noqa: S608 - server side; times formatted here
            f"WHERE timestamp >= toDateTime64('{_sql_time(start)}', 6, 'UTC') "
            f"AND timestamp <= toDateTime64('{_sql_time(end)}', 6, 'UTC')) AS logs"
        )
        rewritten = re.sub(
            r"(?i)\b(from|join)\s+logs\b(?!\s*\.)", lambda m: f"{m.group(1)} {scoped}", sql
        )
        document = json.loads(self.execute(rewritten + "\nFORMAT JSON", "JSON").bytes())
        types = {col["name"]: col["type"] for col in document["meta"]}
        rows = []
        for row in document["data"][:ROW_CAP]:
            for name, ch_type in types.items():
                value = row.get(name)
                if ch_type.startswith("DateTime64") and isinstance(value, str):
                    row[name] = value.replace(" ", "T")  # naive ISO, microseconds, UTC
                elif re.match(r"^U?Int(64|128|256)$", ch_type) and isinstance(value, str):
                    row[name] = int(value)
            rows.append(row)
        return rows

    # -- fault bookkeeping (under the lock) -----------------------------------------------------

    def take(self, name: str) -> bool:
        """Use one unit of the counter fault `name`; True when it fired."""
        with self._lock:
            left = getattr(self.faults, name)
            if left > 0:
                setattr(self.faults, name, left - 1)
                return True
            return False

    def record(self, entry: Recorded) -> int:
        with self._lock:
            self.requests.append(entry)
            return len(self.requests)

    def rate(self, key: tuple[str, str]) -> tuple[int, int, float]:
        """(count in this minute including this request, limit, seconds to the reset)."""
        with self._lock:
            now = self.clock.now().timestamp()
            minute = int(now // 60)
            count = self._rates.get((*key, minute), 0) + 1
            self._rates[(*key, minute)] = count
            limit = self.faults.rate_limit or 0
            return count, limit, (minute + 1) * 60 - now


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    store: StoreServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # -- plumbing ----------------------------------------------------------------------------

    def _entry(self, face: str) -> tuple[Recorded, int]:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        entry = Recorded(
            face=face,
            method=self.command,
            path=parts.path,
            params=parse_qs(parts.query, keep_blank_values=True),
            headers={k: v for k, v in self.headers.items()},
            body=body,
        )
        return entry, self.store.record(entry)

    def _dead(self, count: int) -> bool:
        limit = self.store.faults.die_after
        if limit is not None and count > limit:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return True
        return False

    def _reply(
        self,
        entry: Recorded,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        entry.status = status
        cut = self.store.take("cut_replies")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if cut:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)

    def _json(
        self, entry: Recorded, status: int, value: Any, headers: dict[str, str] | None = None
    ) -> None:
        self._reply(entry, status, json.dumps(value).encode(), headers)

    # -- routing -------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def _route(self) -> None:
        path = urlsplit(self.path).path
        if path.startswith("/v1/"):
            self._supabase()
        else:
            self._clickhouse()

    # -- Supabase face -------------------------------------------------------------------------

    def _supabase(self) -> None:
        entry, count = self._entry("supabase")
        if self._dead(count):
            return
        match = SUPABASE_PATH.match(entry.path)
        if match is None or self.command != "GET":
            self._json(
                entry, 404, {"message": f"Cannot {self.command} {entry.path}", "statusCode": 404}
            )
            return
        if match.group(2) == "logs.all":
            self._json(entry, 410, {"message": "This endpoint has been removed"})
            return
        store, faults = self.store, self.store.faults
        expired = faults.token_expired or (
            faults.expire_after is not None and count > faults.expire_after
        )
        if self.headers.get("Authorization") != f"Bearer {store.token}" or expired:
            self._json(entry, 401, {"message": "Unauthorized"})
            return
        if match.group(1) not in (store.project, store.fuzz_project):
            self._json(entry, 404, {"message": "Project not found"})
            return
        used, limit, reset = store.rate((store.token, store.project))
        headers = {}
        if limit:
            headers = {
                "x-ratelimit-limit": str(limit),
                "x-ratelimit-remaining": str(max(0, limit - used)),
                "x-ratelimit-reset": str(math.ceil(reset)),
            }
        if store.take("storm"):
            self._json(entry, 429, {"message": "ThrottlerException: Too Many Requests"},
                       {**headers, "retry-after": str(faults.storm_retry_after)})  # fmt: skip
            return
        if limit and used > limit:
            self._json(entry, 429, {"message": "ThrottlerException: Too Many Requests"},
                       {**headers, "retry-after": str(math.ceil(reset))})  # fmt: skip
            return
        params = {k: v[-1] for k, v in entry.params.items()}
        table = "supa.logs_fuzz" if match.group(1) == store.fuzz_project else None
        answer = self._supabase_answer(params, table)
        entry.rows = len(answer["result"]) if answer["result"] is not None else None
        self._json(entry, 200, answer, headers)

    def _supabase_answer(self, params: dict[str, str], table: str | None) -> dict[str, Any]:
        store, faults = self.store, self.store.faults
        sql = params.get("sql", "")
        if "iso_timestamp_start" not in params or "iso_timestamp_end" not in params:
            return {"result": None, "error": BACKEND_ERROR}
        try:
            start, end = _iso(params["iso_timestamp_start"]), _iso(params["iso_timestamp_end"])
        except ValueError:
            return {"result": None, "error": BACKEND_ERROR}
        end = min(end, start + MAX_RANGE)  # the oldest 24 h only, silently
        if faults.dark and start < faults.dark[1] and faults.dark[0] <= end:
            return {"result": None, "error": BACKEND_ERROR}
        if store.take("backend_errors"):
            return {"result": None, "error": BACKEND_ERROR}
        try:
            return {"result": store.supabase_rows(sql, start, end, table), "error": None}
        except Exception as exc:  # the endpoint answers SQL errors as 200
            return {"result": None, "error": str(exc).split("\n")[0]}

    # -- ClickHouse face -----------------------------------------------------------------------

    def _ch_user(self, params: dict[str, str]) -> tuple[str, str]:
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            return user, password
        user = self.headers.get("X-ClickHouse-User") or params.get("user") or "default"
        password = self.headers.get("X-ClickHouse-Key") or params.get("password") or ""
        return user, password

    def _ch_error(self, entry: Recorded, message: str) -> None:
        code_match = _CODE.search(message)
        code = int(code_match.group(1)) if code_match else 1002
        text = message.strip()
        if not text.startswith("Code:"):
            text = f"Code: {code}. DB::Exception: {text}"
        body = f"{text} (version {VERSION})\n".encode()
        status = STATUS_OF_CODE.get(code, 500)
        self._reply(
            entry,
            status,
            body,
            {"X-ClickHouse-Exception-Code": str(code)},
            "text/plain; charset=UTF-8",
        )

    def _clickhouse(self) -> None:
        entry, count = self._entry("clickhouse")
        if self._dead(count):
            return
        if entry.path == "/ping":
            self._reply(entry, 200, b"Ok.\n", content_type="text/html; charset=UTF-8")
            return
        params = {k: v[-1] for k, v in entry.params.items()}
        user, password = self._ch_user(params)
        if (user, password) != (self.store.ch_user, self.store.ch_password):
            self._ch_error(entry, f"Code: 516. DB::Exception: {user}: Authentication failed: password is "
                                  "incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)")  # fmt: skip
            return
        sql = "\n".join(part for part in (params.get("query", ""), entry.body.decode()) if part)
        bound = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
        settings = {
            k: v for k, v in params.items() if k not in RESERVED and not k.startswith("param_")
        }
        if settings and self.store.faults.readonly:
            name = next(iter(settings))
            self._ch_error(entry, f"Code: 164. DB::Exception: {user}: Cannot modify '{name}' setting in "
                                  "readonly mode. (READONLY)")  # fmt: skip
            return
        fmt_match = _FORMAT.search(sql)
        fmt = fmt_match.group(1) if fmt_match else (
            params.get("default_format") or self.headers.get("X-ClickHouse-Format") or "TabSeparated"
        )  # fmt: skip
        with self.store._lock:  # settings are session state: applied and undone around the query
            for name, value in settings.items():
                self.store.session.query(f"SET {name} = '{value}'")
            try:
                self._ch_query(entry, sql, fmt, bound, params.get("wait_end_of_query") == "1")
            finally:
                for name in settings:
                    self.store.session.query(f"SET {name} = DEFAULT")

    def _ch_query(
        self, entry: Recorded, sql: str, fmt: str, bound: dict[str, str], buffered: bool
    ) -> None:
        tag = "".join(random.choices(string.ascii_lowercase, k=16))
        late = self.store.faults.late_errors_in in sql and self.store.take("late_errors")
        if buffered and not late:
            try:
                result = self.store.execute(sql, fmt, bound)
            except Exception as exc:
                self._ch_error(entry, str(exc))
                return
            summary = {
                "read_rows": str(result.storage_rows_read()),
                "read_bytes": str(result.storage_bytes_read()),
                "written_rows": "0",
                "written_bytes": "0",
                "total_rows_to_read": str(result.storage_rows_read()),
                "result_rows": str(result.rows_read()),
                "result_bytes": str(result.bytes_read()),
                "elapsed_ns": str(int(result.elapsed() * 1e9)),
            }
            headers = {
                "X-ClickHouse-Summary": json.dumps(summary, separators=(",", ":")),
                "X-ClickHouse-Format": fmt,
                "X-ClickHouse-Exception-Tag": tag,
            }
            self._reply(entry, 200, result.bytes(), headers, "application/json; charset=UTF-8")
            return
        self._ch_stream(entry, sql, fmt, bound, tag, late)

    def _ch_stream(
        self, entry: Recorded, sql: str, fmt: str, bound: dict[str, str], tag: str, late: bool
    ) -> None:
        """Chunked reply as the data comes; an error after the first byte goes into the body."""
        try:
            data = self.store.execute(sql, fmt, bound).bytes()
            error = None
        except Exception as exc:
            if not late:
                self._ch_error(entry, str(exc))
                return
            data, error = b"", str(exc)
        if late:
            data = data[: len(data) // 2]
            error = (
                error
                or "Code: 241. DB::Exception: Memory limit (total) exceeded. (MEMORY_LIMIT_EXCEEDED)"
            )
        entry.status = 200
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("X-ClickHouse-Format", fmt)
        self.send_header("X-ClickHouse-Exception-Tag", tag)
        self.send_header(
            "X-ClickHouse-Summary", '{"read_rows":"0","read_bytes":"0"}'
        )  # sent before
        self.end_headers()
        chunks = [data] if data else []
        if error is not None:
            message = f"{error.strip()} (version {VERSION})"
            chunks.append(
                f"\r\n__exception__\r\n{tag}\r\n{message}\r\n{len(message)} {tag}\r\n__exception__\r\n".encode()
            )
        for chunk in chunks:
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")


# -- tables ------------------------------------------------------------------------------------

TABLES = (
    "SET session_timezone = 'UTC'",
    "CREATE DATABASE IF NOT EXISTS supa",
    "CREATE DATABASE IF NOT EXISTS otel",
    "CREATE DATABASE IF NOT EXISTS app",
    # Supabase's unified `logs` table (reference/log-stores.md §1).
    """CREATE TABLE IF NOT EXISTS supa.logs_all (
        id String, timestamp DateTime64(6, 'UTC'), source LowCardinality(String),
        event_message String, severity_text LowCardinality(String),
        log_attributes Map(String, String)
    ) ENGINE = MergeTree PARTITION BY toDate(timestamp) ORDER BY (timestamp, source)""",
    "CREATE TABLE IF NOT EXISTS supa.logs_fuzz AS supa.logs_all",
    # The OpenTelemetry collector's clickhouseexporter, newer layout (TimestampTime).
    """CREATE TABLE IF NOT EXISTS otel.otel_logs (
        Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
        TimestampTime DateTime DEFAULT toDateTime(Timestamp),
        TraceId String, SpanId String, TraceFlags UInt8,
        SeverityText LowCardinality(String), SeverityNumber UInt8,
        ServiceName LowCardinality(String), Body String,
        ResourceSchemaUrl LowCardinality(String),
        ResourceAttributes Map(LowCardinality(String), String),
        ScopeSchemaUrl LowCardinality(String), ScopeName String, ScopeVersion LowCardinality(String),
        ScopeAttributes Map(LowCardinality(String), String),
        LogAttributes Map(LowCardinality(String), String)
    ) ENGINE = MergeTree PARTITION BY toDate(TimestampTime)
      ORDER BY (ServiceName, TimestampTime, Timestamp)""",
    # ... and the older layout, without TimestampTime.
    """CREATE TABLE IF NOT EXISTS otel.otel_logs_v0 (
        Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
        TraceId String, SpanId String, TraceFlags UInt32,
        SeverityText LowCardinality(String), SeverityNumber Int32,
        ServiceName LowCardinality(String), Body String,
        ResourceAttributes Map(LowCardinality(String), String),
        LogAttributes Map(LowCardinality(String), String)
    ) ENGINE = MergeTree PARTITION BY toDate(Timestamp)
      ORDER BY (ServiceName, SeverityText, toUnixTimestamp(Timestamp), TraceId)""",
    # A table some other shipper wrote, with names of its own.
    """CREATE TABLE IF NOT EXISTS app.`Event Log` (
        at DateTime64(3, 'UTC'), svc String, line String, level String
    ) ENGINE = MergeTree ORDER BY at""",
)


def create_tables(session: Any) -> None:
    """The Supabase `logs` table and three ClickHouse log tables, empty."""
    for statement in TABLES:
        session.query(statement)


def load_fuzz(session: Any, rows: list[Any]) -> None:
    """Insert fixture rows (`LogRow`) into the second project's table only."""
    data = "\n".join(json.dumps(row.supabase(), ensure_ascii=False) for row in rows)
    session.query(f"INSERT INTO supa.logs_fuzz FORMAT JSONEachRow\n{data}")


def load_rows(session: Any, rows: list[Any], batch: int = 5000) -> None:
    """Insert fixture rows (`LogRow`) into every table."""
    for i in range(0, len(rows), batch):
        part = rows[i : i + batch]
        supa = "\n".join(json.dumps(row.supabase(), ensure_ascii=False) for row in part)
        session.query(f"INSERT INTO supa.logs_all FORMAT JSONEachRow\n{supa}")
        otel = "\n".join(
            json.dumps(
                {
                    "Timestamp": row.ts.strftime("%Y-%m-%d %H:%M:%S.%f"),
                    "ServiceName": row.source,
                    "SeverityText": row.severity,
                    "Body": row.message,
                    "LogAttributes": row.attributes,
                },
                ensure_ascii=False,
            )
            for row in part
        )
        session.query(f"INSERT INTO otel.otel_logs FORMAT JSONEachRow\n{otel}")
        session.query(f"INSERT INTO otel.otel_logs_v0 FORMAT JSONEachRow\n{otel}")
        custom = "\n".join(
            json.dumps(
                {
                    "at": row.ts.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
                    "svc": row.source,
                    "line": row.message,
                    "level": row.severity,
                },
                ensure_ascii=False,
            )  # fmt: skip
            for row in part
        )
        session.query(f"INSERT INTO app.`Event Log` FORMAT JSONEachRow\n{custom}")
