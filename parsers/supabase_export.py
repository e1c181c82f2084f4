"""Supabase log exports (Logs Explorer download, Management API reply, `supabase logs`), JSON and CSV.

One row per log event, in any of the shapes the platform has had (reference/log-stores.md §1,
reference/client-logs.md "Supabase platform logs"):
- ClickHouse era (2026-): `id`, `timestamp` as naive ISO UTC (`2026-06-22T09:34:06.215000`),
  `source` (`edge_logs`, `postgres_logs`, ...), `event_message`, `severity_text`, and the
  structured fields in a `log_attributes` map keyed by dotted path (`request.path`,
  `response.status_code`, `response.headers.proxy_status`, `parsed.sql_state_code` ...), or
  picked out by the query under any alias (`log_attributes['request.path'] as path`).
- BigQuery era: `timestamp` in microseconds since the epoch and the same fields nested in
  `metadata` arrays of one object each (`metadata[0].request[0].method`); no `source` column
  (one table per source), so the source is told from the fields.
JSON comes as an array, as `{"result": [...], "error": null}`, one object per line, or objects
one after another (pretty-printed, as people paste them); CSV has a header row.

What each source yields:
- `edge_logs` (API gateway; `event_message` is `METHOD | STATUS | IP | RAY | URL | UA`):
  a PostgREST schema-cache code in `proxy_status` (`PostgREST; error=PGRST204`, PostgREST v14+
  projects) -> `schema_cache_error` with the table from `/rest/v1/<table>` and no column;
  otherwise any request to `/rest/v1/<table>` -> `access` (any status and any other proxy
  code, kept in `code`: the 400s are evidence, the writes the denominator of the share that
  failed, the reads counted by status class). `request_id` from
  `sb_request_id`, `x-request-id` or the `cf-ray`.
- `postgrest_logs`: PostgREST's own stderr lines, classified by `parsers.postgrest_stderr.RULES`.
- `postgres_logs`: statements and errors through `parsers.postgres_events`.
- anything else (`function_logs`, `function_edge_logs`, `auth_logs` ...): an error body the app
  logged, found by `parsers.error_body`.
Timestamps are UTC by definition here, whatever `--tz` says. Exports are small (the API caps a
query at 1000 rows), so the nested JSON is flattened in Python; the matching is polars.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import polars as pl
from polars.datatypes import DataTypeClass

from parsers.base import LogFormat, Sample
from parsers.error_body import error_columns
from parsers.postgres_events import RECORD_SCHEMA, record_events
from parsers.postgrest_access import READ_METHODS, WRITE_METHODS
from parsers.postgrest_stderr import RULES as POSTGREST_RULES
from parsers.timestamps import epoch, iso
from runbook.events import SCHEMA_CACHE_FAMILY, Kind

_FLAT_TYPES: dict[str, pl.DataType | DataTypeClass] = {
    "line_no": pl.Int64,
    "id": pl.String,
    "timestamp": pl.String,
    "source": pl.String,
    "event_message": pl.String,
    "method": pl.String,
    "path": pl.String,
    "search": pl.String,
    "url": pl.String,
    "status": pl.String,
    "proxy_status": pl.String,
    "request_id": pl.String,
    "severity": pl.String,
    "sql_state": pl.String,
    "query": pl.String,
    "pid": pl.String,
    "parsed_ts": pl.String,
}
FLAT_SCHEMA = pl.Schema(_FLAT_TYPES)

# Canonical field <- keys it goes by, best first: flattened `metadata` / `log_attributes` paths
# (without `metadata.`) and the aliases people give them in a query.
ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "timestamp": ("timestamp", "time", "ts"),
    "source": ("source", "source_name", "log_source"),
    "event_message": ("event_message", "message", "msg"),
    "method": ("request.method", "method"),
    "path": ("request.path", "request.pathname", "path"),
    "search": ("request.search", "search"),
    "url": ("request.url", "url"),
    "status": ("response.status_code", "status_code", "status", "response.status"),
    "proxy_status": ("response.headers.proxy_status", "proxy_status"),
    "request_id": (
        "response.headers.sb_request_id",
        "request.headers.x_request_id",
        "response.headers.x_request_id",
        "x_request_id",
        "request_id",
        "request.headers.cf_ray",
        "cf_ray",
    ),
    "severity": ("parsed.error_severity", "error_severity", "severity_text", "severity", "level"),
    "sql_state": ("parsed.sql_state_code", "sql_state_code", "sqlstate", "state_code"),
    "query": ("parsed.query", "query", "statement"),
    "pid": ("parsed.process_id", "process_id", "pid"),
    "parsed_ts": ("parsed.timestamp",),
}
NESTED = ("metadata", "log_attributes")

EDGE_MESSAGE = r"^([A-Z]{3,7}) \| (\d{3}) \|"
POSTGREST_PREFIX = r"^\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}: "
PG_STATEMENT = r"^(?:[0-9A-Z]{5}: )?(?:duration: [0-9.]+ ms\s+)?(?:statement|execute [^:]*): "
PG_TAGGED = (
    r"^(?:.*?[\s\]:>])?(LOG|ERROR|WARNING|NOTICE|INFO|DEBUG[1-5]?|FATAL|PANIC):  (.*)$"
)
REQUEST_METHODS = (*WRITE_METHODS, *READ_METHODS)
CACHE_CODES = ("PGRST204", *SCHEMA_CACHE_FAMILY)
_RESYNC_ELEMENT = re.compile(r'\{\s*"(?:id|timestamp|event_message|source|log_attributes|metadata)"\s*:')
_RESYNC_LINE = re.compile(r"\n(?=\{)")
_RESULT = re.compile(r'\{\s*"result"\s*:\s*\[')
_RESULT_KEY = re.compile(r'"result"\s*:\s*\[')
_COLUMN_KEY = re.compile(r"""['"]([^'"]+)['"]\s*\]?\s*\)?\s*$""")
LEVELS = {
    "debug": "debug",
    "log": "info",
    "info": "info",
    "notice": "info",
    "warn": "warning",
    "warning": "warning",
    "error": "error",
    "err": "error",
    "fatal": "critical",
    "panic": "critical",
    "critical": "critical",
}


class SupabaseJsonExportFormat(LogFormat):
    name = "supabase_json"
    description = "Supabase log export / Management API reply (JSON)"
    whole_file = True
    samples = (
        Sample(
            (
                '{"result": [{"id": "dc843376-bb92-49a1-8249-4c367d9da18e", "timestamp": '
                '"2026-06-22T09:34:06.215000", "source": "edge_logs", "event_message": "POST | 400 | '
                '203.0.113.7 | 9ddc9313ff6ba403 | https://abcd.supabase.co/rest/v1/mypoolr | python-httpx/0.27.0",'
                ' "log_attributes": {"request.method": "POST", "request.path": "/rest/v1/mypoolr", '
                '"response.status_code": "400", "response.headers.proxy_status": "PostgREST; error=PGRST204", '
                '"request.headers.cf_ray": "9ddc9313ff6ba403"}}], "error": null}',
            ),
            {
                "kind": "schema_cache_error",
                "code": "PGRST204",
                "table": "mypoolr",
                "column": None,
                "method": "POST",
                "status": 400,
                "request_id": "9ddc9313ff6ba403",
                "ts": "2026-06-22 09:34:06.215000+00:00",
            },
        ),
        Sample(
            (
                '{"event_message": "PATCH | 400 | 203.0.113.7 | 9bd979b0f832bec0 | '
                'https://abcd.supabase.co/rest/v1/Members?id=eq.4 | node", "id": "229eae2b", "metadata": '
                '[{"request": [{"method": "PATCH", "path": "/rest/v1/Members", "search": "?id=eq.4"}], '
                '"response": [{"headers": [{"proxy_status": null}], "status_code": 400}]}], '
                '"timestamp": 1773756557442000}',
            ),
            {
                "kind": "access",
                "method": "PATCH",
                "path": "/rest/v1/Members?id=eq.4",
                "status": 400,
                "request_id": "9bd979b0f832bec0",
                "ts": "2026-03-17 14:09:17.442000+00:00",
            },
        ),
        Sample(
            (
                '[{"id": "1", "timestamp": "2026-06-22T09:35:00.000000", "source": "postgrest_logs", '
                '"event_message": "22/Jun/2026:09:35:00 +0000: Received a schema cache reload message on '
                'the \\"pgrst\\" channel"}]',
            ),
            {"kind": "cache_reload", "detail": "notify channel=pgrst"},
        ),
        Sample(
            (
                '{"id": "2", "timestamp": "2026-06-22T09:30:00.000000", "source": "postgres_logs", '
                '"event_message": "statement: ALTER TABLE public.\\"Members\\" RENAME COLUMN adminname TO '
                'admin_id", "log_attributes": {"parsed.error_severity": "LOG", "parsed.process_id": "812"}}',
            ),
            {
                "kind": "migration",
                "schema": "public",
                "table": "Members",
                "column": "adminname",
                "detail": "RENAME COLUMN adminname TO admin_id",
            },
        ),
        Sample(
            (
                '{"id": "3", "timestamp": "2026-06-22T09:34:07.000000", "source": "function_logs", '
                '"event_message": "insert failed: {\\"code\\":\\"PGRST204\\",\\"details\\":null,\\"hint\\":null,'
                '\\"message\\":\\"Could not find the \'adminname\' column of \'mypoolr\' in the schema cache\\"}\\n", '
                '"log_attributes": {"level": "error"}}',
            ),
            {"kind": "schema_cache_error", "code": "PGRST204", "table": "mypoolr", "column": "adminname"},
        ),
    )

    def sniff(self, lines: list[str]) -> float:
        text = "\n".join(lines).lstrip("\ufeff \t\r\n")
        if not text or text[0] not in "[{":
            return 0.0
        if re.search(r'"event_message"\s*:', text) and re.search(r'"(?:timestamp|id)"\s*:', text):
            return 1.0
        if re.match(r'\{\s*"result"\s*:\s*\[', text) and re.search(r'"timestamp"\s*:', text):
            return 0.9  # a Management API reply whose query picked columns other than the message
        return 0.0

    def parse_document(self, data: bytes, tz: str = "UTC") -> pl.DataFrame:
        text = data.decode("utf-8", "replace")
        rows: list[dict[str, Any]] = []
        torn: list[int] = []
        for line_no, obj in json_records(text):
            row = normalize(obj) if isinstance(obj, dict) else None
            if row is None:
                torn.append(line_no)
            else:
                row["line_no"] = line_no
                rows.append(row)
        return flat_events(pl.DataFrame(rows, schema=FLAT_SCHEMA), torn)


class SupabaseCsvExportFormat(LogFormat):
    name = "supabase_csv"
    description = "Supabase Logs Explorer download (CSV with a header row)"
    whole_file = True
    samples = (
        Sample(
            (
                "id,timestamp,event_message,method,path,status_code,proxy_status",
                'b1,2026-06-22T09:34:06.215000,"POST | 400 | 203.0.113.7 | 9ddc9313ff6ba403 | '
                'https://abcd.supabase.co/rest/v1/mypoolr | python-httpx/0.27.0",POST,/rest/v1/mypoolr,400,',
            ),
            {"kind": "access", "method": "POST", "path": "/rest/v1/mypoolr", "status": 400, "line_no": 2},
        ),
        Sample(
            (
                "timestamp,id,event_message,metadata",
                '1773756557442000,e1,"PATCH | 400 | https://abcd.supabase.co/rest/v1/mypoolr?id=eq.1 | okhttp",'
                '"[{""response"": [{""headers"": [{""proxy_status"": ""PostgREST; error=PGRST204""}], '
                '""status_code"": 400}]}]"',
            ),
            {"kind": "schema_cache_error", "code": "PGRST204", "table": "mypoolr", "status": 400},
        ),
    )

    def sniff(self, lines: list[str]) -> float:
        header = next((line for line in lines if line.strip()), "").lstrip("\ufeff")
        names = {_column_key(name) for name in header.split(",")}
        if "event_message" in names and names & {"timestamp", "id"}:
            return 1.0
        if "timestamp" in names and names & {"log_attributes", "metadata", "request.path", "proxy_status"}:
            return 0.9
        return 0.0

    def parse_document(self, data: bytes, tz: str = "UTC") -> pl.DataFrame:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                frame = pl.read_csv(
                    data,
                    infer_schema=False,
                    truncate_ragged_lines=True,
                    ignore_errors=True,
                    encoding="utf8-lossy",
                    raise_if_empty=False,
                )
        except Exception:
            return pl.DataFrame(schema={"line_no": pl.Int64, "kind": pl.String})
        if frame.height == 0:
            return pl.DataFrame(schema={"line_no": pl.Int64, "kind": pl.String})
        newlines = pl.sum_horizontal(
            pl.col(name).str.count_matches("\n", literal=True).fill_null(0) for name in frame.columns
        )
        line_no = (newlines.cast(pl.Int64) + 1).cum_sum().shift(1, fill_value=0) + 2
        line_nos = frame.select(line_no.alias("n"))["n"].to_list()
        keys = [_column_key(name) for name in frame.columns]
        rows: list[dict[str, Any]] = []
        torn: list[int] = []
        for number, values in zip(line_nos, frame.iter_rows(), strict=True):
            row = normalize(dict(zip(keys, values, strict=True)))
            if row is None:
                torn.append(number)
            else:
                row["line_no"] = number
                rows.append(row)
        return flat_events(pl.DataFrame(rows, schema=FLAT_SCHEMA), torn)


def _column_key(name: str) -> str:
    """`log_attributes['request.path']` / `arrayElement(log_attributes, 'request.path')` ->
    `request.path`; other names lower-cased and unquoted."""
    name = name.strip().strip('"').strip()
    match = _COLUMN_KEY.search(name) if ("[" in name or "(" in name) else None
    return (match.group(1) if match else name).lower()


# -- JSON ----------------------------------------------------------------------------------


def json_records(text: str) -> Iterator[tuple[int, Any]]:
    """(line number, decoded object or None when torn) for every record of a JSON export."""
    lines = _LineCounter(text)
    start = len(text) - len(text.lstrip("\ufeff \t\r\n"))
    if start >= len(text):
        return
    decoder = json.JSONDecoder()
    if text[start] == "[":
        yield from _array(text, start, decoder, lines)
        return
    if text[start] == "{":
        # The Management API's `{"result": [...], "error": null}`, whole or torn.
        result = _RESULT.match(text, start)
        try:
            whole = decoder.raw_decode(text, start)[0]
        except json.JSONDecodeError:
            whole = None
        if isinstance(whole, dict) and "result" in whole and "event_message" not in whole:
            result = _RESULT_KEY.search(text, start) if isinstance(whole["result"], list) else None
            if result is None:
                return  # `"result": null` with an `error`: no rows
        if result is not None:
            yield from _array(text, result.end() - 1, decoder, lines)
            return
    yield from _sequence(text, start, decoder, lines)


class _LineCounter:
    """Line number of increasing offsets, counted incrementally."""

    def __init__(self, text: str) -> None:
        self.text, self.pos, self.line = text, 0, 1

    def __call__(self, pos: int) -> int:
        if pos < self.pos:
            return self.line
        self.line += self.text.count("\n", self.pos, pos)
        self.pos = pos
        return self.line


def _skip(text: str, pos: int, chars: str = " \t\r\n") -> int:
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos


def _array(text: str, pos: int, decoder: json.JSONDecoder, lines: _LineCounter) -> Iterator[tuple[int, Any]]:
    pos += 1  # past "["
    while True:
        pos = _skip(text, pos, " \t\r\n,")
        if pos >= len(text) or text[pos] == "]":
            return
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            yield lines(pos), None
            resync = _RESYNC_ELEMENT.search(text, pos + 1)
            if resync is None:
                return
            pos = resync.start()
            continue
        yield lines(pos), obj
        pos = end


def _sequence(text: str, pos: int, decoder: json.JSONDecoder, lines: _LineCounter) -> Iterator[tuple[int, Any]]:
    """Objects one after another: JSON lines, pretty-printed objects pasted in a row, or the
    body of arrays whose opening `[` is not in the text (exports read from a mixed stream)."""
    while True:
        pos = _skip(text, pos, " \t\r\n,[]")  # between objects, and arrays one after another
        if pos >= len(text):
            return
        try:
            if text[pos] != "{":
                raise json.JSONDecodeError("not an object", text, pos)
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            yield lines(pos), None
            resync = _RESYNC_LINE.search(text, pos)
            if resync is None:
                return
            pos = resync.end()
            continue
        yield lines(pos), obj
        pos = end


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{prefix}{key}.", out)
    elif isinstance(value, list):
        # BigQuery-era metadata: every nested record is an array of one object.
        if len(value) == 1 and isinstance(value[0], dict):
            _flatten(value[0], prefix, out)
    elif prefix:
        out.setdefault(prefix[:-1].lower(), value)


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def normalize(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The canonical fields of one export row (`FLAT_SCHEMA`), or None when it is no log event."""
    fields: dict[str, Any] = {}
    for key, value in obj.items():
        lowered = str(key).lower()
        if lowered in NESTED:
            if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
                try:
                    value = json.loads(value)
                except ValueError:
                    continue
            if isinstance(value, dict) and lowered == "log_attributes":
                for attr, item in value.items():
                    fields.setdefault(str(attr).lower(), item)
            else:
                _flatten(value, "", fields)
        else:
            fields[lowered] = value
    row: dict[str, Any] = {}
    for name, keys in ALIASES.items():
        row[name] = next((text for key in keys if (text := _text(fields.get(key))) is not None), None)
    if row["event_message"] is None and row["timestamp"] is None:
        return None
    return row


# -- events --------------------------------------------------------------------------------


def _postgrest_kind(message: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    kind = pl.lit(None, pl.String)
    detail = pl.lit(None, pl.String)
    for pattern, rule_kind, rule_detail in reversed(POSTGREST_RULES):
        hit = message.str.contains(pattern)
        value = None if rule_kind == Kind.OTHER else rule_kind.value  # timing lines are noise here
        kind = pl.when(hit).then(pl.lit(value, pl.String)).otherwise(kind)
        detail = pl.when(hit).then(pl.lit(rule_detail)).otherwise(detail)
    channel = message.str.extract(r'on the "?([^"\s]+?)"? channel', 1)
    detail = pl.when(channel.is_not_null()).then(pl.concat_str(detail, pl.lit(" channel="), channel)).otherwise(detail)
    return kind, detail


def _url_decode(text: pl.Expr) -> pl.Expr:
    return pl.when(text.str.contains("%", literal=True)).then(
        text.map_elements(unquote, return_dtype=pl.String, skip_nulls=True)
    ).otherwise(text)


def flat_events(flat: pl.DataFrame, torn: list[int] | None = None) -> pl.DataFrame:
    """Events from canonical export rows; `torn` line numbers come back with a null `kind`."""
    message = pl.col("event_message")
    rows = flat.with_columns(
        pl.coalesce(
            iso(pl.col("timestamp"), "UTC"),
            pl.when(pl.col("timestamp").str.contains(r"^\d{9,}(?:\.\d+)?$")).then(epoch(pl.col("timestamp"))),
            iso(pl.col("parsed_ts"), "UTC"),
        ).alias("ts"),
        pl.col("source").str.to_lowercase().alias("source"),
        pl.coalesce(pl.col("method"), message.str.extract(EDGE_MESSAGE, 1)).str.to_uppercase().alias("method"),
        pl.coalesce(pl.col("status"), message.str.extract(EDGE_MESSAGE, 2)).cast(pl.Int32, strict=False).alias("status"),
        pl.coalesce(pl.col("request_id"), message.str.extract(r"\| ([0-9a-f]{16}) \|", 1)).alias("request_id"),
        pl.col("proxy_status").str.extract(r"error=([A-Za-z0-9]+)", 1).alias("_proxy_code"),
    ).with_columns(
        pl.coalesce(
            pl.when(pl.col("path").is_not_null()).then(pl.concat_str(pl.col("path"), pl.col("search").fill_null(""))),
            pl.coalesce(pl.col("url"), message.str.extract(r"\| (https?://\S+)", 1)).str.extract(
                r"^(?:https?://[^/]+)?(/\S*)", 1
            ),
        ).alias("path"),
    )
    postgrest_message = message.str.replace(POSTGREST_PREFIX, "").str.strip_chars()
    postgrest_kind, postgrest_detail = _postgrest_kind(postgrest_message)
    rows = rows.with_columns(
        _url_decode(pl.col("path").str.extract(r"^/rest/v1/([^/?#]+)", 1)).alias("_table"),
        postgrest_kind.alias("_pgrst_kind"),
        postgrest_detail.alias("_pgrst_detail"),
        postgrest_message.alias("_pgrst_message"),
    ).with_columns(
        pl.coalesce(
            pl.col("source"),
            pl.when(pl.col("sql_state").is_not_null() | pl.col("query").is_not_null()).then(pl.lit("postgres_logs")),
            pl.when(pl.col("method").is_not_null() & pl.col("status").is_not_null()).then(pl.lit("edge_logs")),
            pl.when(pl.col("_pgrst_kind").is_not_null()).then(pl.lit("postgrest_logs")),
            # `select timestamp, event_message from postgres_logs` keeps nothing else
            pl.when(message.str.contains(PG_STATEMENT) | message.str.contains(PG_TAGGED)).then(pl.lit("postgres_logs")),
        ).alias("_source"),
    )
    frames = [_edge_events(rows), _postgrest_events(rows), _postgres_events(rows), _app_events(rows)]
    frames = [frame for frame in frames if frame.height]
    if torn:
        frames.append(pl.DataFrame({"line_no": torn, "kind": [None] * len(torn), "malformed": [True] * len(torn)},
                                   schema={"line_no": pl.Int64, "kind": pl.String, "malformed": pl.Boolean}))
    if not frames:
        return pl.DataFrame(schema={"line_no": pl.Int64, "kind": pl.String})
    events = pl.concat(frames, how="diagonal_relaxed")
    return events.drop([c for c in events.columns if c.startswith("_")]).sort("line_no", maintain_order=True)


def _level(severity: pl.Expr) -> pl.Expr:
    return severity.str.to_lowercase().replace_strict(LEVELS, default=None, return_dtype=pl.String)


def _edge_events(rows: pl.DataFrame) -> pl.DataFrame:
    edge = rows.filter(pl.col("_source") == "edge_logs")
    table = pl.when(pl.col("_table") != "rpc").then(pl.col("_table"))
    cache_error = pl.col("_proxy_code").is_in(CACHE_CODES).fill_null(False)
    # Every other request to a table, whatever its status and proxy code (PGRST116, 23502 ...):
    # the failed writes are evidence, all writes the denominator of the share that failed,
    # reads their own counts. The proxy code stays in `code`, so that a 400 the gateway names
    # as another error is never taken for a PGRST204.
    request = (
        pl.col("status").is_not_null()
        & pl.col("method").is_in(REQUEST_METHODS)
        & table.is_not_null()
        & ~cache_error
    ).fill_null(False)
    return edge.filter(cache_error | request).select(
        "ts",
        "line_no",
        pl.col("line_no").alias("record_no"),
        pl.when(cache_error).then(pl.lit(Kind.SCHEMA_CACHE_ERROR.value)).otherwise(pl.lit(Kind.ACCESS.value)).alias("kind"),
        pl.col("_proxy_code").alias("code"),
        table.alias("table"),
        "method",
        "path",
        "status",
        "request_id",
        pl.col("_source").alias("detail"),
        pl.when(cache_error | (pl.col("status") >= 500)).then(pl.lit("error")).otherwise(pl.lit("warning")).alias("level"),
        pl.concat_str(
            pl.col("method"), pl.lit(" "), pl.col("path"), pl.lit(" -> "), pl.col("status").cast(pl.String),
            pl.when(pl.col("proxy_status").is_not_null()).then(pl.lit(" (") + pl.col("proxy_status") + pl.lit(")")),
            ignore_nulls=True,
        ).alias("message"),
        pl.concat_str(
            pl.col("event_message"),
            pl.when(pl.col("proxy_status").is_not_null()).then(pl.lit("\nproxy_status: ") + pl.col("proxy_status")),
            ignore_nulls=True,
        ).alias("raw"),
    )


def _postgrest_events(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.filter((pl.col("_source") == "postgrest_logs") & pl.col("_pgrst_kind").is_not_null()).select(
        "ts",
        "line_no",
        pl.col("line_no").alias("record_no"),
        pl.col("_pgrst_kind").alias("kind"),
        pl.col("_pgrst_detail").alias("detail"),
        pl.col("_pgrst_message").alias("message"),
        pl.col("_pgrst_message").str.extract(r'"code":"(PGRST\d{3}|[0-9A-Z]{5})"', 1).alias("code"),
        pl.coalesce(_level(pl.col("severity")), pl.lit("info")).alias("level"),
        pl.col("event_message").alias("raw"),
    )


def _postgres_events(rows: pl.DataFrame) -> pl.DataFrame:
    pg = rows.filter(pl.col("_source") == "postgres_logs")
    if pg.height == 0:
        return pg
    tagged = pl.col("event_message").str.extract_groups(PG_TAGGED).struct.rename_fields(["tag", "text"])
    records = (
        pg.with_columns(tagged.alias("_tagged"))
        .unnest("_tagged")
        .select(
            "ts",
            "pid",
            pl.coalesce(pl.col("severity"), pl.col("tag")).str.to_uppercase().alias("severity"),
            "sql_state",
            pl.coalesce(pl.col("text"), pl.col("event_message")).alias("message"),
            pl.col("query").alias("statement"),
            "line_no",
            pl.col("line_no").alias("record_no"),
            pl.col("event_message").alias("raw"),
        )
        .cast(RECORD_SCHEMA)
    )
    return record_events(records)


def _app_events(rows: pl.DataFrame) -> pl.DataFrame:
    others = rows.filter(
        ~pl.col("_source").is_in(["edge_logs", "postgres_logs", "postgrest_logs"]).fill_null(False)
        & pl.col("event_message").str.contains(r"PGRST|chema cache|does not exist")
    )
    if others.height == 0:
        return others
    return (
        others.select(
            "ts",
            "line_no",
            pl.col("line_no").alias("record_no"),
            *error_columns(pl.col("event_message")),
            pl.col("_source").alias("detail"),
            pl.coalesce(_level(pl.col("severity")), pl.lit("error")).alias("level"),
            pl.col("event_message").alias("raw"),
        ).filter(pl.col("kind").is_not_null())
    )
