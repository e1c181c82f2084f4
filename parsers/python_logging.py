"""Python `logging` text, tracebacks included: supabase-py / postgrest-py `APIError`s as apps log them.

Layouts (reference/client-logs.md, "Python logging formats"):
- `%(asctime)s %(levelname)s %(name)s: %(message)s`    `2026-11-18 09:15:01,223 ERROR bot.db: ...`
- Flask's `[%(asctime)s] %(levelname)s in %(module)s: %(message)s`
- `%(asctime)s - %(name)s - %(levelname)s - %(message)s`
- basicConfig's default `%(levelname)s:%(name)s:%(message)s` (no time), uvicorn's `ERROR:    ...`
- gunicorn's `[2026-11-18 09:15:01 +0000] [8] [ERROR] ...`, loguru's `... | ERROR    | mod:fn:12 - ...`
with an optional `docker compose` / pm2 prefix (`bot-1  | `).

A record starts at a line with a timestamp or a level prefix. Everything else (a traceback, its
frames, the final `postgrest.exceptions.APIError: {...}` line, the `repr(exc)` lines
`Error PGRST204:` / `Message: ...`) belongs to the record above and takes its time, which is
naive local time of the process (`tz`). One record yields one event per distinct error.

Besides errors, httpx's `HTTP Request: POST https://.../rest/v1/t "HTTP/1.1 400 Bad Request"`
(logged at INFO by supabase-py's HTTP client) becomes an `access` event: the failing endpoint.
"""

from __future__ import annotations

import re

import polars as pl

from parsers.app_records import (
    DATE_TIME,
    PREFIX,
    TIMESTAMP,
    level_word,
    one_event_per_record,
    quotes_unescaped,
    request_id_in,
)
from parsers.base import ERROR_KEYWORDS, LogFormat, Sample, share
from parsers.error_body import error_columns
from parsers.line_prefixes import prefix_time, strip, strip_expr
from parsers.timestamps import iso
from runbook.events import Kind

LEVEL = r"(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)"

RECORD_START = re.compile(rf"^{PREFIX}?(?:\[?{DATE_TIME}|\[?{LEVEL}(?:[:\]]|\s))")

# The time of a record: first thing on the header, or after a leading level (Django's verbose).
HEAD_TS = rf"^{PREFIX}?(?:\[?{LEVEL}\]?\s+)?\[?({TIMESTAMP})"
HEAD_LEVEL = rf"\b({LEVEL})\b"
# Logger name: after the level (`ERROR bot.db:`, `ERROR in members:`, loguru `ERROR | mod:fn:1`),
# before it (`- bot.db - ERROR -`), or basicConfig's `ERROR:bot.db:`.
LOGGER_AFTER = rf"\b{LEVEL}\]?\s*\|?\s*(?:in\s+)?([\w.<>-]+):"
LOGGER_BEFORE = rf"\s-\s+([\w.<>-]+)\s+-\s+{LEVEL}\b"
LOGGER_BASIC = rf"^{PREFIX}?{LEVEL}:([^\s:]+):"

HTTPX_REQUEST = r'HTTP Request: ([A-Z]+) (\S+) "HTTP/[\d.]+ (\d{3})'

# Sniffing. Only the headers of Python's own layouts are evidence: asctime with a space
# (`,mmm`), basicConfig's `LEVEL:name:`, uvicorn's padded `LEVEL:`. Tracebacks (printed by any
# Python process, also between JSON lines) and ISO `T...Z` lines with a level (common to every
# stack) count only beside such headers.
_SNIFF_HEADER = re.compile(
    rf"^{PREFIX}?(?:"
    rf"\[?\d{{4}}-\d{{2}}-\d{{2}} \d{{2}}:\d{{2}}:\d{{2}}(?:[,.]\d+)?(?: ?[+-]\d{{4}})?\]?"
    rf"(?:\s*\[\d+\])?(?:\s*[-|:]\s*|\s+)(?:[\w.<>-]+\s+-\s+)?\[?{LEVEL}\b"
    r"(?! \(\d+(?: on \S+)?\):)"  # pino-pretty's `ERROR (pid on host):` is Node
    rf"|{LEVEL}:[^\s:]+:|{LEVEL}:\s{{3,}}\S"
    rf"|{LEVEL}\s+\d{{4}}-\d{{2}}-\d{{2}} \d{{2}}:"
    r")"
)
_SNIFF_NEUTRAL = re.compile(
    rf"^{PREFIX}?(?:\[?{DATE_TIME}\S*\]?\s+\[?{LEVEL}\b"
    r"|Traceback \(most recent call last\):|\s+File \".*\", line \d+"
    r"|During handling of the above exception|The above exception was the direct cause"
    r"|Error PGRST\d{3}:"
    r"|[\w.]+(?:Error|Exception|Warning)(?::|$)|(?:Message|Hint|Details): "
    r"|\s+(?!at\s)(?![A-Za-z_$][\w$]*: )\S)"
)

APIERROR = (
    "postgrest.exceptions.APIError: {'code': 'PGRST204', 'details': None, 'hint': None, "
    "'message': \"Could not find the 'adminname' column of 'mypoolr' in the schema cache\"}"
)


class PythonLoggingFormat(LogFormat):
    name = "python_logging"
    description = "Python logging text with tracebacks (supabase-py / postgrest-py APIError)"
    # httpx's failed-request line names the endpoint; 400 is what PostgREST answers PGRST204 with.
    keywords = (*ERROR_KEYWORDS, b' 400 Bad Request"')
    samples = (
        Sample(
            (
                "2026-11-18 09:15:01,223 ERROR bot.handlers: Failed to create pool request_id=7f3a",
                "Traceback (most recent call last):",
                '  File "/app/bot/handlers.py", line 88, in create_pool',
                '    supabase.table("mypoolr").insert(row).execute()',
                '  File "/usr/local/lib/python3.12/site-packages/postgrest/_sync/request_builder.py", line 78, in execute',
                "    raise APIError(r.json())",
                APIERROR,
            ),
            {
                "code": "PGRST204",
                "table": "mypoolr",
                "column": "adminname",
                "level": "error",
                "detail": "bot.handlers",
                "request_id": "7f3a",
                "record_no": 1,
                "line_no": 7,
                "ts": "2026-11-18 09:15:01.223000+00:00",
            },
        ),
        Sample(
            (
                "[2026-11-18 09:15:01,223] ERROR in members: insert failed: Error PGRST204:",
                "Message: Column 'doseLogs' of relation 'patients' does not exist",
            ),
            {"code": "PGRST204", "table": "patients", "column": "doseLogs", "detail": "members"},
        ),
        Sample(
            (
                "2026-11-18 09:15:01,223 - app.repo - WARNING - write failed: {'code': 'PGRST204', "
                "'details': None, 'hint': None, 'message': 'Could not find the \\'col\"x\\' "
                "column of \\'T\\' in the schema cache'}",
            ),
            {"table": "T", "column": 'col"x', "level": "warning", "detail": "app.repo"},
        ),
        Sample(
            ("ERROR:root:APIError(" + APIERROR.split(": ", 1)[1] + ")",),
            {"code": "PGRST204", "column": "adminname", "detail": "root", "ts": "None"},
        ),
        Sample(
            (
                "ERROR:    Exception in ASGI application",
                "Traceback (most recent call last):",
                APIERROR,
            ),
            {"code": "PGRST204", "level": "error", "record_no": 1},
        ),
        Sample(
            (
                "[2026-11-18 09:15:01 +0100] [8] [ERROR] Exception in worker process",
                "postgrest.exceptions.APIError: {'message': \"Could not find the table "
                "'public.memberz' in the schema cache\", 'code': 'PGRST205', 'hint': None, "
                "'details': None}",
            ),
            {"code": "PGRST205", "schema": "public", "table": "memberz",
             "ts": "2026-11-18 08:15:01+00:00"},
        ),
        Sample(
            (
                "2026-11-18 09:15:01.223 | ERROR    | __main__:create:42 - write failed",
                "postgrest.exceptions.APIError: {'code': '42703', 'details': None, 'hint': None, "
                "'message': 'column \"telegram_handle\" of relation \"members\" does not exist'}",
            ),
            {"code": "42703", "kind": "db_error", "table": "members", "column": "telegram_handle",
             "detail": "__main__"},
        ),
        Sample(
            (
                "2026-11-18 09:15:01,101 INFO httpx: HTTP Request: POST "
                'https://abc.supabase.co/rest/v1/mypoolr?columns=%22adminname%22 "HTTP/1.1 400 Bad Request"',
            ),
            {"kind": "access", "method": "POST", "path": "/rest/v1/mypoolr?columns=%22adminname%22",
             "status": 400, "level": "info"},
        ),
        Sample(
            (
                "2026-11-18 09:15:01,223 INFO app.sync: started",
                "2026-11-18 09:15:02,223 ERROR app.sync: insert failed: {'code': 'PGRST204',",
                " 'details': None,",
                " 'hint': None,",
                " 'message': \"Column 'tg' of relation 'members' does not exist\"}",
            ),
            {"code": "PGRST204", "table": "members", "column": "tg", "record_no": 2, "line_no": 5,
             "ts": "2026-11-18 09:15:02.223000+00:00"},
        ),
        Sample(
            ("bot-1  | 2026-11-18 09:15:01,223 ERROR bot: " + APIERROR.split(": ", 1)[1],),
            {"code": "PGRST204", "ts": "2026-11-18 09:15:01.223000+00:00", "detail": "bot"},
        ),
        # basicConfig's layout (no time) under Kubernetes CRI: the kubelet's time is the record's
        Sample(
            (
                "2026-11-22T10:20:05.123456789Z stderr F ERROR:bot.db:insert failed",
                "2026-11-22T10:20:05.123501000Z stderr F Traceback (most recent call last):",
                "2026-11-22T10:20:05.123502000Z stderr F " + APIERROR,
            ),
            {"code": "PGRST204", "record_no": 1, "line_no": 3, "detail": "bot.db",
             "ts": "2026-11-22 10:20:05.123456+00:00"},
        ),
        # under syslog RFC 5424 (rsyslog forwarding a container's stderr)
        Sample(
            ("<131>1 2026-11-22T10:20:05.123Z web-1 bot 8 - - ERROR:bot.db:insert failed: "
             + APIERROR.split(": ", 1)[1],),
            {"code": "PGRST204", "detail": "bot.db", "ts": "2026-11-22 10:20:05.123000+00:00"},
        ),
    )

    def sniff(self, lines: list[str]) -> float:
        # A collector's prefix (CRI, syslog, journald ...) hides the layout: read what follows it.
        bodies = [strip(line) for line in lines]
        if not any(_SNIFF_HEADER.match(body) for body in bodies):
            return 0.0
        return share(bodies, lambda body: _SNIFF_HEADER.match(body) or _SNIFF_NEUTRAL.match(body))

    def is_record_start(self, line: str) -> bool:
        # Behind a collector's prefix (every line stamped by the kubelet, journald ...) only
        # the text after it says whether a record begins.
        return RECORD_START.match(strip(line)) is not None

    def parse(self, candidates: pl.DataFrame, tz: str = "UTC") -> pl.LazyFrame:
        head, line = pl.col("head"), pl.col("line")
        request = line.str.extract_groups(HTTPX_REQUEST)
        errors = candidates.lazy().with_columns(*error_columns(quotes_unescaped(line)))
        is_access = pl.col("kind").is_null() & request.struct.field("1").is_not_null()
        bare = strip_expr(head)  # the header after a collector's prefix
        parsed = errors.with_columns(
            pl.coalesce(
                iso(head.str.extract(HEAD_TS, 1), tz),
                prefix_time(head, tz),
                iso(bare.str.extract(HEAD_TS, 1), tz),
            ).alias("ts"),
            level_word(head.str.extract(HEAD_LEVEL, 1)).alias("level"),
            pl.coalesce(
                head.str.extract(LOGGER_BASIC, 1),
                bare.str.extract(LOGGER_BASIC, 1),
                head.str.extract(LOGGER_BEFORE, 1),
                head.str.extract(LOGGER_AFTER, 1),
            ).alias("detail"),
            request_id_in(head, line).alias("request_id"),
            pl.when(is_access).then(pl.lit(Kind.ACCESS.value)).otherwise(pl.col("kind")).alias("kind"),
            pl.when(is_access).then(request.struct.field("1")).alias("method"),
            pl.when(is_access)
            .then(request.struct.field("2").str.replace(r"^[A-Za-z][\w+.-]*://[^/?#]*", ""))
            .alias("path"),
            pl.when(is_access).then(request.struct.field("3").cast(pl.Int32)).alias("status"),
        )
        return one_event_per_record(parsed, merge_repeats=True)
