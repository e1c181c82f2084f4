"""A PostgREST-compatible server for tests, run as a subprocess.

    python -m tests.support.postgrest_server --db-uri DSN --port 0 --admin-port 0 \\
        --ready-file ready.json --stderr-log stderr.log --access-log access.log

Why a subprocess: tests must be able to send it SIGUSR1, kill it, and read its logs as files,
exactly as the tool does with a real PostgREST. It writes `{"pid", "port", "admin_port",
"version"}` to `--ready-file` once the first schema cache load has been attempted.

Faithful to reference/postgrest.md: the schema cache is loaded from the real database and
frozen until a reload (NOTIFY on `--db-channel`, SIGUSR1, or a listener reconnect); stderr and
access-log lines use the wording of `--version`; the admin server answers /live, /ready,
/schema_cache and /metrics where that version has them. `--no-listener` runs without the
LISTEN connection (db-channel-enabled=false, or a listener lost behind a transaction pooler).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from tests.support.pg_pool import Pool, PoolTimeout
from tests.support.postgrest_api import Api, ApiConfig, Request, Response
from tests.support.postgrest_logs import (
    LEVELS,
    AccessLog,
    LineSink,
    Profile,
    StderrLog,
    error_json,
    haskell_double,
)
from tests.support.schema_cache import SchemaCache, admin_json, load_schema_cache


@dataclass
class ServerConfig:
    db_uri: str
    schemas: list[str]
    extra_search_path: list[str]
    channel: str
    listener: bool
    anon_role: str | None
    pool_size: int
    tx_end: str
    db_config: bool
    version: str
    host: str
    port: int
    admin_port: int | None
    log_level: str
    stderr_log: Path | None
    access_log: Path | None
    ready_file: Path | None
    require_key: str | None
    cache_sleep_ms: int


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


class App:
    """Shared state: the cache, the reload worker, the listener and both HTTP servers."""

    def __init__(self, cfg: ServerConfig) -> None:
        self.cfg = cfg
        self.profile = Profile.of(cfg.version)
        self.log = StderrLog(
            LineSink(cfg.stderr_log, None if cfg.stderr_log else sys.stderr), cfg.log_level
        )
        self.access = AccessLog(
            LineSink(cfg.access_log, None if cfg.access_log else sys.stdout),
            cfg.log_level,
            self.profile,
        )
        self.pool = Pool(cfg.db_uri, cfg.pool_size, f"PostgREST {cfg.version}")
        self.cache: SchemaCache | None = None
        self.pending = False
        self.loads = {"SUCCESS": 0, "FAIL": 0}
        self.last_load_time = 0.0
        self.retry_delay = 0  # seconds until the next load retry, for Retry-After
        self.stopping = threading.Event()
        self.first_attempt = threading.Event()
        self.listener_ready = threading.Event()
        self._cv = threading.Condition()
        self._reload_requested = False
        self._loading = False
        self._listener_thread: threading.Thread | None = None
        self.api_server: _HttpServer | None = None
        self.admin_server: _HttpServer | None = None
        self.api: Api | None = None

    # -- reloading ----------------------------------------------------------------------------
    def request_reload(self) -> None:
        """Queue a schema cache load; requests during a load coalesce into one more load."""
        with self._cv:
            if self._loading and self.profile.drops_reloads_while_running:
                return
            self._reload_requested = True
            self._cv.notify()

    def reload_config(self) -> None:
        self.log.write(self.profile.config_reloaded())

    def _reload_worker(self) -> None:
        while True:
            with self._cv:
                while not self._reload_requested and not self.stopping.is_set():
                    self._cv.wait(0.2)
                if self.stopping.is_set():
                    return
                self._reload_requested = False
                self._loading = True
            try:
                if self.profile.legacy_worker:
                    self._load_legacy()
                else:
                    self._load_with_retry()
            finally:
                with self._cv:
                    self._loading = False
                self.first_attempt.set()

    def _conn_error(self, exc: BaseException) -> str:
        """The verbose JSON PostgREST prints for a failed database call."""
        if isinstance(exc, psycopg.Error) and exc.diag.sqlstate:
            d = exc.diag
            return error_json(
                d.sqlstate or "", d.message_primary or str(exc), d.message_detail, d.message_hint
            )
        if isinstance(exc, PoolTimeout):
            return error_json("PGRST003", "Timed out acquiring connection from connection pool.")
        return self.profile.connection_error_json(str(exc))

    def _query_pg_version(self) -> str:
        with self.pool.connection() as conn:
            row = conn.execute("SELECT version()").fetchone()
            conn.rollback()
        return str(row[0]) if row else ""

    def _query_cache(self) -> SchemaCache:
        if self.cfg.cache_sleep_ms:
            time.sleep(self.cfg.cache_sleep_ms / 1000)
        with self.pool.connection() as conn:
            count_tz = (12, 2, 2) <= self.profile.version < (16, 0, 0)
            return load_schema_cache(conn, self.cfg.schemas, count_timezones=count_tz)

    def _load_with_retry(self) -> None:
        """v12.2+ `retryingSchemaCacheLoad`: retries with exponential backoff capped at 32 s."""
        delay = 0
        while not self.stopping.is_set():
            if delay:
                if self.stopping.wait(delay):
                    return
                self.log.write(self.profile.reconnect_in(delay))
            if self._attempt_load():
                self.retry_delay = 0
                return
            self.first_attempt.set()
            delay = min(delay * 2, 32) if delay else 1
            self.retry_delay = delay

    def _attempt_load(self) -> bool:
        self.pending = True
        try:
            version = self._query_pg_version()
        except (psycopg.Error, PoolTimeout) as exc:
            self.log.write(self.profile.pg_version_failed(self._conn_error(exc)))
            return False
        self.log.write(*self.profile.connect_lines(version, self.pool.size))
        if self.cfg.db_config:
            self.log.write(self.profile.config_reloaded())
        try:
            cache = self._query_cache()
        except (psycopg.Error, PoolTimeout) as exc:
            if not self.profile.keeps_cache_on_failure:
                self.cache = None
            self.log.write(
                *self.profile.cache_failed(
                    self.cfg.schemas, self.cfg.extra_search_path, self._conn_error(exc)
                )
            )
            self.loads["FAIL"] += 1
            return False
        started = time.perf_counter()
        self.cache = cache
        counts = cache.counts()
        load_ms = (time.perf_counter() - started) * 1000
        self.pool.flush()
        self.log.write(
            *self.profile.cache_loaded(counts, cache.query_ms, load_ms, self.cfg.log_level)
        )
        self.last_load_time = load_ms if self.profile.metrics_in_ms else load_ms / 1000
        self.loads["SUCCESS"] += 1
        self.pending = False
        return True

    def _load_legacy(self) -> None:
        """v9-v12.1 connection worker: connect (retrying), then config, then the cache."""
        while not self.stopping.is_set():
            if self.profile.start_line_every_run:
                self.log.write(self.profile.starting())
            self.log.write("Attempting to connect to the database...")
            prev_delay, delay = 0, 1
            while True:
                self.pool.flush()
                try:
                    self._query_pg_version()
                    break
                except (psycopg.Error, PoolTimeout) as exc:
                    self.log.write(self._conn_error(exc), self.profile.reconnect_in(prev_delay))
                    self.first_attempt.set()
                    self.retry_delay = delay
                    if self.stopping.wait(delay):
                        return
                    prev_delay, delay = delay, min(delay * 2, 32)
            self.retry_delay = 0
            self.log.write("Connection successful")
            if self.cfg.listener and self._listener_thread is None:
                self._start_listener()
            if self.cfg.db_config:
                self.log.write(self.profile.config_reloaded())
            try:
                cache = self._query_cache()
            except (psycopg.Error, PoolTimeout) as exc:
                self.cache = None
                self.log.write(
                    *self.profile.cache_failed(self.cfg.schemas, [], self._conn_error(exc))
                )
                self.first_attempt.set()
                continue
            self.cache = cache
            self.log.write(
                *self.profile.cache_loaded(cache.counts(), cache.query_ms, 0.0, self.cfg.log_level)
            )
            self.loads["SUCCESS"] += 1
            return

    # -- listener -----------------------------------------------------------------------------
    def _start_listener(self) -> None:
        self._listener_thread = threading.Thread(
            target=self._listener_loop, name="listener", daemon=True
        )
        self._listener_thread.start()

    def _listener_loop(self) -> None:
        """LISTEN on the channel; on failure log, back off (1..32 s), reconnect and reload."""
        delay = 1
        channel = self.cfg.channel
        while not self.stopping.is_set():
            conn: psycopg.Connection | None = None
            try:
                conn = psycopg.connect(
                    self.cfg.db_uri,
                    autocommit=True,
                    connect_timeout=5,
                    target_session_attrs="read-write",
                    fallback_application_name=f"PostgREST {self.cfg.version}",
                )
                row = conn.execute("SELECT version()").fetchone()
                full_version = str(row[0]) if row else ""
                conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                if delay > 1:  # we had lost the listener: assume notifications were lost
                    self.request_reload()
                    delay = 1
                self.log.write(
                    self.profile.listener_started(
                        channel, full_version, f"{conn.info.host}:{conn.info.port}"
                    )
                )
                self.listener_ready.set()
                while not self.stopping.is_set():
                    for note in conn.notifies(timeout=0.25):
                        self._on_notification(note.payload)
            except psycopg.Error as exc:
                if self.stopping.is_set():
                    return
                self.log.write(*self.profile.listener_failed(channel, _one_line(exc), delay))
                self.listener_ready.set()
                if self.profile.legacy_worker:
                    self.request_reload()  # v9-v12.1 rerun the connection worker
                if self.stopping.wait(delay):
                    return
                delay = min(delay * 2, 32)
            finally:
                if conn is not None:
                    conn.close()

    def _on_notification(self, payload: str) -> None:
        """Exact, case-sensitive payload match (reference §4); anything else is ignored."""
        if payload in ("", "reload schema"):
            if self.profile.logs_received_message:
                self.log.write(self.profile.received_schema(self.cfg.channel))
            self.request_reload()
        elif payload == "reload config":
            if self.profile.logs_received_message:
                self.log.write(self.profile.received_config(self.cfg.channel))
            self.reload_config()

    # -- admin ----------------------------------------------------------------------------------
    def admin_response(self, path: str) -> tuple[int, bytes, list[tuple[str, str]]]:
        path = path.split("?")[0]
        modern = self.profile.has_metrics
        if path == "/live":
            return 200, b"", []
        if path == "/ready":
            if not modern:
                return (200 if self.cache is not None else 503), b"", []
            if self.pending:
                return 503, b"", []
            return (200 if self.loads["SUCCESS"] else 500), b"", []
        if path == "/schema_cache" and modern:
            cache = self.cache
            body = (
                json.dumps(admin_json(cache), ensure_ascii=False, separators=(",", ":")).encode()
                if cache
                else b""
            )
            return 200, body, []
        if path == "/metrics" and modern:
            ctype = (
                "text/plain; charset=utf-8" if self.profile.version >= (13, 0, 5) else "text/plain"
            )
            return 200, self.metrics_text().encode(), [("Content-Type", ctype)]
        return 404, b"", []

    def metrics_text(self) -> str:
        """Prometheus exposition as the Haskell client prints it (labels appear once used)."""
        pool = self.pool
        out: list[str] = []

        def metric(name: str, help_: str, kind: str, samples: list[tuple[str, float]]) -> None:
            out.append(f"# HELP {name} {help_}")
            out.append(f"# TYPE {name} {kind}")
            out.extend(f"{name}{labels} {haskell_double(v)}" for labels, v in samples)

        metric(
            "pgrst_db_pool_timeouts_total",
            "The total number of pool connection timeouts",
            "counter",
            [("", pool.timeouts)],
        )
        metric(
            "pgrst_db_pool_available",
            "Available connections in the pool",
            "gauge",
            [("", pool.connected - pool.in_use)],
        )
        metric(
            "pgrst_db_pool_waiting",
            "Requests waiting to acquire a pool connection",
            "gauge",
            [("", pool.waiting)],
        )
        metric("pgrst_db_pool_max", "Max pool connections", "gauge", [("", pool.size)])
        loads = [(f'{{status="{k}"}}', float(v)) for k, v in sorted(self.loads.items()) if v]
        metric(
            "pgrst_schema_cache_loads_total",
            "The total number of times the schema cache was loaded",
            "counter",
            loads,
        )
        metric(
            "pgrst_schema_cache_query_time_seconds",
            "The query time in seconds of the last schema cache load",
            "gauge",
            [("", self.last_load_time)],
        )
        if self.profile.version >= (14, 0, 0):
            for name, help_ in (
                ("requests", "lookups"),
                ("hits", "hits"),
                ("evictions", "evictions"),
            ):
                metric(
                    f"pgrst_jwt_cache_{name}_total",
                    f"The total number of JWT cache {help_}",
                    "counter",
                    [("", 0.0)],
                )
        return "\n".join(out) + "\n"

    # -- lifecycle ------------------------------------------------------------------------------
    def run(self) -> int:
        cfg, profile = self.cfg, self.profile
        if profile.start_line_once:
            self.log.write(profile.starting())
        self.api_server = _HttpServer((cfg.host, cfg.port), _ApiHandler, self)
        port = self.api_server.server_address[1]
        self.api = Api(
            ApiConfig(
                profile, cfg.schemas, cfg.tx_end, cfg.anon_role, cfg.require_key, cfg.host, port
            ),
            self.pool,
            lambda: self.cache,
            self.log,
        )
        admin_port = None
        if cfg.admin_port is not None and profile.has_admin:
            self.admin_server = _HttpServer((cfg.host, cfg.admin_port), _AdminHandler, self)
            admin_port = self.admin_server.server_address[1]
        if not profile.legacy_worker:
            if admin_port is not None:
                self.log.write(profile.admin_listening(cfg.host, admin_port))
            if cfg.listener:
                self._start_listener()
                self.listener_ready.wait(5)
        threading.Thread(target=self._reload_worker, name="reloader", daemon=True).start()
        self.request_reload()
        self.first_attempt.wait()
        if profile.legacy_worker and admin_port is not None:
            self.log.write(profile.admin_listening(cfg.host, admin_port))
        self.log.write(profile.api_listening(cfg.host, port))
        for server in (self.api_server, self.admin_server):
            if server is not None:
                # A short poll interval keeps shutdown (and test teardown) fast.
                threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        if cfg.ready_file:
            info = {
                "pid": os.getpid(),
                "port": port,
                "admin_port": admin_port,
                "version": cfg.version,
            }
            tmp = cfg.ready_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(info))
            tmp.replace(cfg.ready_file)
        while not self.stopping.wait(0.2):
            pass
        self.shutdown()
        return 0

    def on_service_unavailable(self, headers: list[tuple[str, str]]) -> None:
        """Every 503 gets `Retry-After` and kicks the loader (`App.hs` up to v16.2; v16 only
        when a cache exists, since a load is then already running)."""
        headers.append(("Retry-After", str(self.retry_delay)))
        if self.profile.version < (16, 0, 0) or self.cache is not None:
            self.request_reload()

    def on_signal(self, signum: int, _frame: Any) -> None:
        if signum == signal.SIGUSR1:
            self.request_reload()  # no log line of its own (reference §2.3)
        elif signum == signal.SIGUSR2:
            self.reload_config()
        else:
            if self.profile.version >= (14, 7, 0):
                self.log.write(f"Received termination unix signal {signal.Signals(signum).name}")
            self.stopping.set()

    def shutdown(self) -> None:
        for server in (self.api_server, self.admin_server):
            if server is not None:
                server.shutdown()
                server.server_close()
        if self._listener_thread is not None:
            self._listener_thread.join(timeout=2)  # it polls `stopping` every 0.25 s
        self.pool.flush()


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, addr: tuple[str, int], handler: type[BaseHTTPRequestHandler], app: App
    ) -> None:
        self.app = app
        super().__init__(addr, handler)


class _BaseHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HttpServer

    def version_string(self) -> str:
        return f"postgrest/{self.server.app.cfg.version}"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the access log is written by _ApiHandler itself, in PostgREST's format

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]], head: bool) -> None:
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        if not head and status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and status not in (204, 304):
            self.wfile.write(body)


class _ApiHandler(_BaseHandler):
    def _dispatch(self) -> None:
        app = self.server.app
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        req = Request(
            self.command, path, query, self.headers, body, self.headers.get_all("Prefer") or []
        )
        assert app.api is not None
        try:
            resp = app.api.handle(req)
        except Exception:  # a bug in the test server: say so loudly, answer like a crash would
            traceback.print_exc()  # goes to process.out, next to the logs
            body = error_json("XX000", "test server bug, see process.out").encode()
            resp = Response(500, body, [("Content-Type", "application/json; charset=utf-8")])
        if resp.status == 503:
            app.on_service_unavailable(resp.headers)
        head = self.command == "HEAD"
        size = None if head else len(resp.body)
        line = app.access.line(
            self.client_address[0],
            resp.role,
            f"{self.command} {self.path} {self.request_version}",
            resp.status,
            size,
            self.headers.get("Referer", ""),
            self.headers.get("User-Agent", ""),
        )
        # Logged before the response goes out, so a test that reads the log right after its
        # request always finds the line (PostgREST logs after; the timestamps are the same).
        app.access.write(line, resp.status)
        self._send(resp.status, resp.body, resp.headers, head)

    do_GET = do_HEAD = do_POST = do_PATCH = do_PUT = do_DELETE = do_OPTIONS = _dispatch


class _AdminHandler(_BaseHandler):
    def _dispatch(self) -> None:
        status, body, headers = self.server.app.admin_response(self.path)
        self._send(status, body, headers, self.command == "HEAD")

    do_GET = do_HEAD = _dispatch


def parse_args(argv: list[str] | None = None) -> ServerConfig:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--db-uri", required=True)
    p.add_argument("--db-schemas", default="public", help="comma-separated exposed schemas")
    p.add_argument("--db-extra-search-path", default="public")
    p.add_argument("--db-channel", default="pgrst")
    p.add_argument(
        "--no-listener", action="store_true", help="no LISTEN connection: NOTIFY does nothing"
    )
    p.add_argument("--db-anon-role", default=None, help="SET LOCAL ROLE for every request")
    p.add_argument("--db-pool", type=int, default=10)
    p.add_argument(
        "--db-tx-end",
        default="commit-allow-override",
        choices=["commit", "commit-allow-override", "rollback", "rollback-allow-override"],
    )
    p.add_argument("--db-config", default="true", choices=["true", "false"])
    p.add_argument(
        "--version", default="16.2", help="PostgREST version to imitate, e.g. 16.2, 12.0.2"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--admin-port", type=int, default=None)
    p.add_argument("--log-level", default="error", choices=list(LEVELS))
    p.add_argument(
        "--stderr-log", type=Path, default=None, help="diagnostic lines (default: stderr)"
    )
    p.add_argument(
        "--access-log", type=Path, default=None, help="access log lines (default: stdout)"
    )
    p.add_argument("--ready-file", type=Path, default=None)
    p.add_argument(
        "--require-key", default=None, help="answer 401 unless apikey/Bearer equals this"
    )
    p.add_argument(
        "--schema-cache-sleep-ms", type=int, default=0, help="slow every cache load down"
    )
    a = p.parse_args(argv)
    return ServerConfig(
        db_uri=a.db_uri,
        schemas=[s.strip() for s in a.db_schemas.split(",") if s.strip()],
        extra_search_path=[s.strip() for s in a.db_extra_search_path.split(",") if s.strip()],
        channel=a.db_channel,
        listener=not a.no_listener,
        anon_role=a.db_anon_role,
        pool_size=a.db_pool,
        tx_end=a.db_tx_end,
        db_config=a.db_config == "true",
        version=a.version,
        host=a.host,
        port=a.port,
        admin_port=a.admin_port,
        log_level=a.log_level,
        stderr_log=a.stderr_log,
        access_log=a.access_log,
        ready_file=a.ready_file,
        require_key=a.require_key,
        cache_sleep_ms=a.schema_cache_sleep_ms,
    )


def main(argv: list[str] | None = None) -> int:
    app = App(parse_args(argv))
    for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, app.on_signal)
    return app.run()


if __name__ == "__main__":
    sys.exit(main())
