"""ClickHouse over its HTTP interface (`clickhouse+http(s)://[user[:password]@]host[:port]/db/table`).

What the interface does and how this client meets it (reference/log-stores.md §2):
- `POST /` with the SQL as the body; every value bound server-side with `param_<name>`
  (`{v0:DateTime64(6, 'UTC')}`, names as `{v1:Identifier}`), nothing else in the URL but
  `wait_end_of_query=1` (a reserved parameter, allowed to `readonly` users; no settings);
- credentials in `X-ClickHouse-User` / `X-ClickHouse-Key`, never in the URL;
- an error before the body: a 4xx/5xx status and `X-ClickHouse-Exception-Code`; an error after
  the first byte: status 200 and the exception appended to the body (framed with the tag of
  `X-ClickHouse-Exception-Tag` since 25.11): both are failures, never partial results;
- columns discovered from `system.columns`: OpenTelemetry `otel_logs` (old and new layouts)
  out of the box, `--ts-column` / `--message-column` / `--service-column` for other tables;
  `TimestampTime` (new layout, in the sort key) bounds the scan too.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx
import polars as pl

from runbook.errors import UsageError
from runbook.ingest.stores import (
    CLICKHOUSE_SCHEMES,
    Progress,
    StoreInputError,
    StoreSettings,
    StoreUnreachable,
)
from runbook.ingest.stores.http import Wire, is_unreachable
from runbook.ingest.stores.pushdown import WindowFailed
from runbook.ingest.stores.rows import parse_line_rows
from runbook.ingest.stores.sql import Binder, Bound, LogTable, columns_sql
from runbook.ingest.stores.stats import StoreStats
from runbook.ingest.stores.windows import Window

TS_NAMES = (
    "Timestamp",
    "timestamp",
    "ts",
    "time",
    "event_time",
    "_timestamp",
    "datetime",
    "date_time",
)
MESSAGE_NAMES = ("Body", "body", "message", "msg", "event_message", "log", "line", "raw", "text")
SERVICE_NAMES = (
    "ServiceName",
    "service_name",
    "service",
    "source",
    "app",
    "application",
    "container_name",
)
AUTH_CODES = {
    192,
    193,
    194,
    195,
    516,
}  # UNKNOWN_USER, WRONG_PASSWORD, REQUIRED_PASSWORD, ..., AUTHENTICATION_FAILED
LATE_ERROR = re.compile(rb"(?:__exception__|Code: \d+\. DB::Exception)")
URL_HELP = "use clickhouse+http://[user[:password]@]host[:port]/<database>/<table>"


def _base_type(ch_type: str) -> str:
    """`Nullable(LowCardinality(String))` -> `String`."""
    inner = ch_type
    while True:
        match = re.match(r"^(?:Nullable|LowCardinality)\((.*)\)$", inner)
        if not match:
            return inner
        inner = match.group(1)


def _is_time(ch_type: str) -> bool:
    return _base_type(ch_type).startswith("DateTime")


def _is_text(ch_type: str) -> bool:
    return _base_type(ch_type).startswith(("String", "FixedString"))


def choose_table(
    database: str, name: str, columns: dict[str, str], settings: StoreSettings
) -> tuple[LogTable, str]:
    """The `LogTable` of a table with `columns` (name -> type), and its layout's name.

    Raises StoreInputError when a needed column is missing or of the wrong kind.
    """

    def pick(override: str | None, names: tuple[str, ...], ok: Callable[[str], bool], what: str, flag: str) -> str | None:
        if override:
            if override not in columns:
                raise StoreInputError(f"{database}.{name} has no column {override!r} ({flag})")
            return override
        found = next((n for n in names if n in columns and ok(columns[n])), None)
        if found is None and what == "timestamp":
            found = next((n for n, t in columns.items() if _is_time(t)), None)
        if found is None and what != "service":
            raise StoreInputError(
                f"no {what} column found in {database}.{name}; name it with {flag}"
            )
        return found

    ts = pick(settings.ts_column, TS_NAMES, _is_time, "timestamp", "--ts-column")
    message = pick(settings.message_column, MESSAGE_NAMES, _is_text, "message", "--message-column")
    service = pick(settings.service_column, SERVICE_NAMES, _is_text, "service", "--service-column")
    assert ts is not None and message is not None
    prune = None
    if ts == "Timestamp" and "TimestampTime" in columns and _is_time(columns["TimestampTime"]):
        prune = "TimestampTime"
    if {"Timestamp", "Body", "ServiceName"} <= set(columns):
        layout = "otel_logs" if prune else "otel_logs (old, no TimestampTime)"
    else:
        layout = "custom"
    return LogTable(database, name, ts, message, service, prune), layout


class ClickHouseStore:
    """One table of a ClickHouse server, read over HTTP."""

    kind = "clickhouse"
    row_cap: int | None = None

    def __init__(
        self,
        base_url: str,
        name: str,
        database: str,
        table_name: str,
        user: str,
        password: str,
        settings: StoreSettings,
        progress: Progress | None,
    ) -> None:
        self.name = name
        self.database, self.table_name = database, table_name
        self.user = user
        self.settings = settings
        self.stats = StoreStats(store=name, kind=self.kind)
        headers = {"X-ClickHouse-User": user}
        if password:
            headers["X-ClickHouse-Key"] = password
        # Plain HTTP builds no TLS context (loading CA certificates costs more than a query).
        tls = base_url.startswith("https://")
        client = httpx.Client(
            base_url=base_url, headers=headers, timeout=settings.timeout, verify=tls
        )
        self.wire = Wire(client, self.stats, settings.clock, [password], progress)
        self.table = LogTable(database, table_name, "", "")

    def __enter__(self) -> ClickHouseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.wire.close()

    def prepare(self) -> None:
        """Learn the table's columns (and check the credentials on the way)."""
        binder = Bound()
        try:
            rows = self._run(columns_sql(binder, self.database, self.table_name), binder)
        except WindowFailed as exc:
            raise StoreUnreachable(
                f"{self.name}: {exc.reason}",
                next_step="check the host, the port and that ClickHouse is up (GET /ping answers Ok.)",
            ) from None
        columns = {str(row["name"]): str(row["type"]) for row in rows}
        if not columns:
            raise StoreInputError(
                f"table {self.database}.{self.table_name} not found, or user {self.user!r} may not read it"
            )
        self.table, self.stats.layout = choose_table(
            self.database, self.table_name, columns, self.settings
        )

    def binder(self) -> Binder:
        return Bound()

    def parse_rows(self, rows: list[dict[str, Any]]) -> pl.DataFrame:
        return parse_line_rows(rows, self.name)

    def query(self, sql: str, binder: Binder, window: Window) -> list[dict[str, Any]]:
        """The rows of `sql`; WindowFailed / StoreUnreachable otherwise."""
        assert isinstance(binder, Bound)
        return self._run(sql, binder)

    # -- the wire --------------------------------------------------------------------------

    def _run(self, sql: str, binder: Bound) -> list[dict[str, Any]]:
        params = {"wait_end_of_query": "1", **binder.url_params()}
        body = (sql + "\nFORMAT JSONCompact").encode()
        attempt = 0
        while True:
            request = self.wire.client.build_request("POST", "/", params=params, content=body)
            try:
                response = self.wire.send(request)
            except httpx.HTTPError as exc:
                attempt += 1
                if attempt >= self.settings.attempts:
                    raise WindowFailed(
                        self.wire.describe(exc), unreachable=is_unreachable(exc)
                    ) from None
                self.wire.backoff(attempt, "connection failed")
                continue
            outcome = self._read(response)
            if isinstance(outcome, list):
                return outcome
            reason, transient = outcome
            attempt += 1
            if not transient or attempt >= self.settings.attempts:
                raise WindowFailed(reason)
            self.wire.backoff(attempt, reason)

    def _read(self, response: httpx.Response) -> list[dict[str, Any]] | tuple[str, bool]:
        """The data rows, or (reason, transient) for an error before or after the first byte."""
        content = response.content
        code_header = response.headers.get("x-clickhouse-exception-code")
        if code_header or response.status_code != 200:
            code = int(code_header) if code_header and code_header.isdigit() else None
            reason = self.wire.scrub(
                content.decode("utf-8", "replace").strip() or f"HTTP {response.status_code}"
            )
            if code in AUTH_CODES or response.status_code in (401, 403):
                raise StoreUnreachable(
                    f"ClickHouse rejected user {self.user!r} at {self.name}: {reason}",
                    title="ClickHouse credentials rejected",
                    next_step="check the user in the URL and CLICKHOUSE_PASSWORD",
                )
            return reason, response.status_code >= 500
        tag = response.headers.get("x-clickhouse-exception-tag")
        late = (tag is not None and b"__exception__" in content[-20000:]) or LATE_ERROR.search(
            content[-20000:]
        )
        if late:
            return self._late_reason(content), True
        try:
            document = json.loads(content)
            names = [column["name"] for column in document["meta"]]
            rows = [dict(zip(names, values, strict=True)) for values in document["data"]]
        except (ValueError, KeyError, TypeError):
            return "the reply is not the JSON asked for (cut off?)", True
        self.stats.add_rows_read(self._rows_read(response, document))
        return rows

    def _late_reason(self, content: bytes) -> str:
        tail = content[-20000:].decode("utf-8", "replace")
        match = re.search(r"Code: \d+\. DB::Exception:[^\r\n]*", tail)
        text = match.group(0) if match else "an error after the first byte of the reply"
        return self.wire.scrub(f"error in the middle of the reply: {text}")

    @staticmethod
    def _rows_read(response: httpx.Response, document: dict[str, Any]) -> int | None:
        summary = response.headers.get("x-clickhouse-summary")
        if summary:
            try:
                return int(json.loads(summary)["read_rows"])
            except (ValueError, KeyError, TypeError):
                pass
        statistics = document.get("statistics")
        if isinstance(statistics, dict) and "rows_read" in statistics:
            return int(statistics["rows_read"])
        return None


def open_clickhouse(
    url: str, settings: StoreSettings, progress: Progress | None
) -> ClickHouseStore:
    """A client for a `clickhouse+http(s)://` URL; the password from the URL, else settings/env."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if f"{scheme}://" not in CLICKHOUSE_SCHEMES or not parts.hostname:
        raise UsageError(
            f"not a ClickHouse URL: {parts.scheme}://{parts.hostname or ''}", next_step=URL_HELP
        )
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if len(segments) != 2:
        raise UsageError("the ClickHouse URL must end in /<database>/<table>", next_step=URL_HELP)
    database, table = segments
    secure = scheme == "clickhouse+https"
    try:
        port = parts.port or (8443 if secure else 8123)
    except ValueError:
        raise UsageError("the ClickHouse URL has an invalid port", next_step=URL_HELP) from None
    user = unquote(parts.username) if parts.username else "default"
    password = unquote(parts.password) if parts.password else settings.clickhouse_password
    password = password or os.environ.get("CLICKHOUSE_PASSWORD") or ""
    host = parts.hostname
    host_text = f"[{host}]" if ":" in host else host
    base_url = f"{'https' if secure else 'http'}://{host_text}:{port}"
    who = f"{quote(user, safe='')}@" if parts.username else ""
    name = f"{scheme}://{who}{host_text}:{port}/{quote(database, safe='')}/{quote(table, safe='')}"
    return ClickHouseStore(base_url, name, database, table, user, password, settings, progress)
