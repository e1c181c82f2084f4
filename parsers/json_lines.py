"""JSON lines from structured loggers: python-json-logger, structlog, pino, bunyan, winston.

One object per line. The error is found by its wording and code anywhere in the line, so it does
not matter under which key the application put it (`err`, `error`, `exc_info`, `exception`,
`context.error`, a traceback string, a `dict_tracebacks` list): reference/causes.md, "The forms
a parser meets". The logger's own fields give the rest:

- time: `timestamp`, `@timestamp`, `time`, `ts`, `asctime`, `datetime`, `created`, as ISO-8601
  text (naive ones in `tz`) or epoch seconds / milliseconds (pino's `time`); journald's
  `__REALTIME_TIMESTAMP` (epoch microseconds, `journalctl -o json`)
- the wrappers of collectors: docker's json-file `{"log": ..., "stream": ..., "time": ...}` and
  journald's `MESSAGE`: the application's text inside is searched like any other field
- level: `level` (a word, or pino/bunyan's 10..60), `levelname`, `severity`, `log.level`, `lvl`,
  Python's numeric `levelno`
- fields flattened by the application (`extra={...}`): `error_code` / `pgrst_code` / `code`,
  `table`, `column`, `schema`; they name the error even when the message is generic
  ("PostgREST schema cache mismatch detected")
- `request_id` / `requestId` / `req_id` / `reqId` / `req.id`, `method` / `req.method`,
  `path` / `req.url`, `status` / `res.statusCode`

A line that starts like an object but is not valid JSON yields no event (it is counted as
skipped). A plain-text line between objects (an uncaught traceback on the same stream, or the
traceback a stdlib handler appends after structlog's JSON) is read as text, belongs to the
object above it and takes its time; the same error in both counts once.

Decoding: one `str.json_decode` pass with an all-text schema of the fields above (numbers come
back as text). polars raises on invalid JSON and on the first value whose type does not fit (an
object where a string was expected): then invalid lines are dropped first
(`str.json_path_match("$")` is null for them), and a batch that still fails is halved until the
odd rows are found; only those are read with `str.json_path_match`, which accepts anything but
costs one parse per field.
"""

from __future__ import annotations

import json
import re

import polars as pl

from parsers.app_records import (
    FIELD_CODE,
    PINO_LEVELS,
    PREFIX,
    PYTHON_LEVELS,
    TIMESTAMP,
    kind_of,
    level_number,
    level_word,
    one_event_per_record,
    quotes_unescaped,
    request_id_in,
)
from parsers.base import LogFormat, Sample, share
from parsers.error_body import error_columns
from parsers.timestamps import epoch, iso

# Output field -> the JSON paths that may hold it, in order of preference.
FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "ts": (("timestamp",), ("@timestamp",), ("time",), ("ts",), ("asctime",), ("datetime",),
           ("created",), ("__REALTIME_TIMESTAMP",)),
    "level": (("level",), ("levelname",), ("severity",), ("log.level",), ("lvl",)),
    "levelno": (("levelno",),),
    "message": (("message",), ("msg",), ("event",), ("MESSAGE",), ("log",)),
    "logger": (("logger",), ("name",), ("logger_name",)),
    "request_id": (("request_id",), ("requestId",), ("req_id",), ("reqId",), ("req", "id"),
                   ("request", "id"), ("x_request_id",)),
    "method": (("method",), ("req", "method"), ("request", "method")),
    "path": (("path",), ("req", "url"), ("req", "path"), ("request", "path"), ("request", "url"),
             ("url",)),
    "status": (("status",), ("status_code",), ("statusCode",), ("res", "statusCode"),
               ("response", "status")),
    "code": (("error_code",), ("pgrst_code",), ("errorCode",), ("code",)),
    "table": (("table",), ("table_name",)),
    "column": (("column",), ("column_name",)),
    "schema": (("schema",), ("schema_name",)),
}

# Keys of other JSON formats (PostgreSQL jsonlog, Supabase exports): not ours to claim.
FOREIGN_KEYS = frozenset({"error_severity", "state_code", "event_message", "log_attributes"})
LOGGER_KEYS = frozenset(
    {"message", "msg", "event", "level", "levelname", "severity", "log.level", "time",
     "timestamp", "@timestamp", "asctime", "ts",
     # docker's json-file driver, `journalctl -o json`
     "log", "MESSAGE", "__REALTIME_TIMESTAMP"}
)

_PREFIX = re.compile(f"^{PREFIX}")
_TEXT_START = re.compile(rf"^\[?{TIMESTAMP}")
NUMBER = r"^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$"
BROKEN_TS = (
    r'^\{.*?"(?:timestamp|@timestamp|time|ts|asctime|datetime)"\s*:\s*"?'
    rf"({TIMESTAMP}|\d{{10,16}}(?:\.\d+)?)"
)


def _schema() -> pl.Struct:
    tree: dict[str, dict] = {}
    for paths in FIELDS.values():
        for path in paths:
            node = tree
            for key in path:
                node = node.setdefault(key, {})

    def build(node: dict) -> pl.Struct:
        return pl.Struct({k: build(v) if v else pl.String for k, v in node.items()})

    return build(tree)


SCHEMA = _schema()


def _field(decoded: pl.Expr, path: tuple[str, ...]) -> pl.Expr:
    for key in path:
        decoded = decoded.struct.field(key)
    return decoded


def _name(path: tuple[str, ...]) -> str:
    """Column of a decoded field (prefixed: `table`, `message` ... are event columns too)."""
    return "json:" + ".".join(path)


def _json_path(path: tuple[str, ...]) -> str:
    return "$" + "".join(f"['{key}']" for key in path)


PATHS = sorted({path for group in FIELDS.values() for path in group})
# Below this many rows a batch that does not decode is read path by path.
BISECT_MIN_ROWS = 32


def _decode_fast(bodies: pl.DataFrame) -> pl.DataFrame:
    decoded = pl.col("body").str.json_decode(SCHEMA)
    return bodies.select("row", *[_field(decoded, path).alias(_name(path)) for path in PATHS])


def _decode_slow(bodies: pl.DataFrame) -> pl.DataFrame:
    body = pl.col("body")
    return bodies.select(
        "row", *[body.str.json_path_match(_json_path(p)).alias(_name(p)) for p in PATHS]
    )


def _decode_valid(bodies: pl.DataFrame) -> pl.DataFrame:
    """Decode valid JSON objects; the few whose types do not fit the schema are found by
    halving the batch, and only they are read path by path."""
    try:
        return _decode_fast(bodies)
    except pl.exceptions.PolarsError:
        if bodies.height <= BISECT_MIN_ROWS:
            return _decode_slow(bodies)
        mid = bodies.height // 2
        return pl.concat([_decode_valid(bodies[:mid]), _decode_valid(bodies[mid:])])


def _decode(bodies: pl.DataFrame) -> pl.DataFrame:
    """`bodies` (`row`, `body`) -> `row`, `valid` and one text column per path of FIELDS."""
    try:
        return _decode_fast(bodies).with_columns(pl.lit(True).alias("valid"))
    except pl.exceptions.PolarsError:
        pass
    # `json_path_match` yields null for invalid JSON where `json_decode` raises.
    valid = bodies.filter(pl.col("body").str.json_path_match("$").is_not_null())
    return _decode_valid(valid).with_columns(pl.lit(True).alias("valid"))


def _first(name: str) -> pl.Expr:
    return pl.coalesce([pl.col(_name(path)) for path in FIELDS[name]])


def _object_line(line: str) -> str | None:
    body = _PREFIX.sub("", line).strip()
    return body if body.startswith("{") else None


class JsonLinesFormat(LogFormat):
    name = "json_lines"
    description = "JSON lines: python-json-logger, structlog, pino, bunyan, winston"
    samples = (
        Sample(
            ('{"asctime": "2026-11-18 09:15:01,223", "levelname": "ERROR", "name": "bot.db", '
             '"message": "PostgREST schema cache mismatch detected", "error_code": "PGRST204", '
             '"table": "mypoolr", "column": "adminname", "request_id": "r-17"}',),
            {"code": "PGRST204", "table": "mypoolr", "column": "adminname", "level": "error",
             "detail": "bot.db", "request_id": "r-17",
             "message": "PostgREST schema cache mismatch detected",
             "ts": "2026-11-18 09:15:01.223000+00:00"},
        ),
        Sample(
            ('{"level":50,"time":1794993301223,"pid":7,"hostname":"api-7f9c","reqId":"req-2",'
             '"req":{"method":"POST","url":"/members"},"err":{"type":"PostgrestError",'
             '"message":"Could not find the \'telegram_handle\' column of \'members\' in the '
             'schema cache","code":"PGRST204","details":null,"hint":null},"msg":"insert failed"}',),
            {"code": "PGRST204", "table": "members", "column": "telegram_handle", "level": "error",
             "method": "POST", "path": "/members", "request_id": "req-2",
             "ts": "2026-11-18 09:15:01.223000+00:00"},
        ),
        Sample(
            ('{"event": "create_pool failed", "level": "error", "logger": "bot", '
             '"timestamp": "2026-11-18T09:15:01.223456Z", "exception": "Traceback (most recent '
             'call last):\\n  File \\"/app/bot.py\\", line 9, in create\\npostgrest.exceptions.'
             'APIError: {\'code\': \'PGRST204\', \'details\': None, \'hint\': None, \'message\': '
             '\\"Could not find the \'adminname\' column of \'mypoolr\' in the schema cache\\"}"}',),
            {"code": "PGRST204", "table": "mypoolr", "column": "adminname", "detail": "bot",
             "ts": "2026-11-18 09:15:01.223456+00:00"},
        ),
        Sample(
            ('{"level":"error","message":"Error creating member: Column \'doseLogs\' of relation '
             '\'patients\' does not exist","timestamp":"2026-11-18T10:15:01.223+01:00",'
             '"context":{"error":{"code":"PGRST204"}}}',),
            {"code": "PGRST204", "table": "patients", "column": "doseLogs",
             "ts": "2026-11-18 09:15:01.223000+00:00"},
        ),
        Sample(
            ('{"@timestamp":"2026-11-18T09:15:01Z","log.level":"warn","message":"write failed",'
             '"error":{"code":"42703","message":"column \\"nick name\\" of relation \\"naïve\\" '
             'does not exist"}}',),
            {"code": "42703", "kind": "db_error", "table": "naïve", "column": "nick name",
             "level": "warning"},
        ),
        Sample(
            ('{"ts": 1794993301.5, "levelno": 40, "msg": "insert failed", "pgrst_code": "PGRST204",'
             ' "schema": "api", "table": "T", "column": "it\'s"}',),
            {"code": "PGRST204", "schema": "api", "table": "T", "column": "it's", "level": "error",
             "ts": "2026-11-18 09:15:01.500000+00:00"},
        ),
        Sample(
            ('api-1  | {"time":"2026-11-18T09:15:01.223Z","level":"error","msg":"failed",'
             '"error":"Could not find the \'na\\u00efve col\' column of \'a.b\' in the schema cache"}',),
            {"table": "a.b", "column": "naïve col", "ts": "2026-11-18 09:15:01.223000+00:00"},
        ),
        # docker's json-file driver (`/var/lib/docker/containers/*/*-json.log`)
        Sample(
            ('{"log":"2026-11-22 10:20:05,123 ERROR bot: {\'code\': \'PGRST204\', '
             '\'message\': \\"Could not find the \'tg\' column of \'members\' in the schema '
             'cache\\"}\\n","stream":"stderr","time":"2026-11-22T10:20:05.123456789Z"}',),
            {"code": "PGRST204", "table": "members", "column": "tg",
             "ts": "2026-11-22 10:20:05.123456+00:00"},
        ),
        # `journalctl -o json`
        Sample(
            ('{"__REALTIME_TIMESTAMP":"1795342805123456","_PID":"4242","SYSLOG_IDENTIFIER":"api",'
             '"PRIORITY":"3","MESSAGE":"insert failed: Could not find the \'tg\' column of '
             '\'members\' in the schema cache"}',),
            {"code": "PGRST204", "table": "members", "ts": "2026-11-22 10:20:05.123456+00:00"},
        ),
    )

    def sniff(self, lines: list[str]) -> float:
        def is_logger_object(line: str) -> bool:
            body = _object_line(line)
            if body is None or not body.endswith("}"):
                return False
            try:
                obj = json.loads(body)
            except ValueError:
                return False
            return isinstance(obj, dict) and bool(LOGGER_KEYS & obj.keys()) and not (
                FOREIGN_KEYS & obj.keys()
            )

        return share(lines, is_logger_object)

    def is_record_start(self, line: str) -> bool:
        body = _PREFIX.sub("", line)
        return body.startswith(("{", "[")) or _TEXT_START.match(body) is not None

    def parse(self, candidates: pl.DataFrame, tz: str = "UTC") -> pl.LazyFrame:
        frame = candidates.with_row_index("row").with_columns(
            pl.col("head").str.replace(f"^{PREFIX}", "").str.strip_chars().alias("body"),
            pl.col("line").str.replace(f"^{PREFIX}", "").str.strip_chars().alias("line_body"),
        )
        is_object = pl.col("body").str.starts_with("{") & pl.col("body").str.ends_with("}")
        fields = _decode(frame.filter(is_object).select("row", "body"))
        frame = frame.join(fields, on="row", how="left")

        line_is_json = pl.col("line_body").str.starts_with("{")
        own = line_is_json & pl.col("valid").fill_null(False) & (pl.col("line") == pl.col("head"))
        broken = line_is_json & ~own

        ts_text = _first("ts").str.strip_chars()
        json_ts = pl.when(ts_text.str.contains(NUMBER)).then(epoch(ts_text)).otherwise(iso(ts_text, tz))
        text_ts = iso(pl.col("body").str.extract(f"^\\[?({TIMESTAMP})", 1), tz)
        # A cut or broken object (the head of the text lines after it) still shows its time.
        broken_ts = pl.col("body").str.extract(BROKEN_TS, 1)
        broken_ts = pl.when(broken_ts.str.contains(NUMBER)).then(epoch(broken_ts)).otherwise(
            iso(broken_ts, tz)
        )

        level_text = _first("level")
        level = pl.coalesce(
            pl.when(level_text.str.contains(NUMBER))
            .then(level_number(level_text, PINO_LEVELS))
            .otherwise(level_word(level_text)),
            level_number(_first("levelno"), PYTHON_LEVELS),
        )
        field_code = pl.coalesce([pl.col(_name(p)).str.extract(FIELD_CODE, 1) for p in FIELDS["code"]])

        def mine(expr: pl.Expr) -> pl.Expr:
            """A field of the line's own object (not of the object above a text line)."""
            return pl.when(own).then(expr)

        found = frame.lazy().with_columns(*error_columns(quotes_unescaped(pl.col("line"))))
        parsed = found.with_columns(
            pl.coalesce(json_ts, text_ts, broken_ts).alias("ts"),
            pl.when(broken).then(None).otherwise(
                pl.coalesce(pl.col("kind"), mine(kind_of(field_code)))
            ).alias("kind"),
            pl.coalesce(pl.col("code"), mine(field_code)).alias("code"),
            pl.coalesce(pl.col("schema"), mine(_first("schema"))).alias("schema"),
            pl.coalesce(pl.col("table"), mine(_first("table"))).alias("table"),
            pl.coalesce(pl.col("column"), mine(_first("column"))).alias("column"),
            pl.coalesce(pl.col("message"), mine(_first("message"))).alias("message"),
            broken.alias("malformed"),  # counted as skipped by the scanner
            mine(level).alias("level"),
            mine(_first("logger")).alias("detail"),
            pl.coalesce(mine(_first("request_id")), request_id_in(pl.col("line"))).alias("request_id"),
            mine(_first("method")).alias("method"),
            mine(_first("path")).alias("path"),
            mine(_first("status").str.extract(r"^(\d{3})(?:\.0+)?$", 1).cast(pl.Int32)).alias("status"),
        )
        return one_event_per_record(parsed, merge_repeats=True)
