"""PostgREST's stderr: startup, connection, listener, schema cache (re)loads, config reloads.

Every line carries the prefix `%d/%b/%Y:%T %z: ` in all versions v9 to v16 (reference/postgrest.md
section 1.1). PostgREST never logs PGRST204 itself; what matters here is when the cache was
asked to reload, when it really loaded, and whether the listener was alive.
"""

from __future__ import annotations

import re

import polars as pl

from parsers.base import LogFormat, Sample, share
from parsers.timestamps import aware
from runbook.events import Kind

# Optional `docker compose` service prefix and `docker logs --timestamps` time before the line.
CONTAINER_PREFIX = r"^(?:[\w.-]+\s+\|\s)?(?:\d{4}-\d{2}-\d{2}T[\d:.]+Z\s)?"
PREFIX = CONTAINER_PREFIX + r"(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}): (.*)$"
TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"
_PREFIX_RE = re.compile(PREFIX)

# (regex on the message, kind, detail). First match wins; order matters.
RULES: tuple[tuple[str, Kind, str], ...] = (
    (r"^Received a schema cache reload message", Kind.CACHE_RELOAD, "notify"),
    (r"^Received a config reload message", Kind.CONFIG_RELOAD, "notify"),
    (r"^Schema cache loaded in ", Kind.OTHER, "cache_load_timing"),
    (r"^Schema cache loaded", Kind.CACHE_LOAD, "loaded"),
    (r"^Schema cache queried in ", Kind.OTHER, "cache_query_timing"),
    (r"^Failed to load the schema cache", Kind.CACHE_LOAD_FAILED, "failed"),
    (r"^A fatal error ocurred when loading the schema cache", Kind.CACHE_LOAD_FAILED, "fatal"),
    (r"^An error ocurred when loading the schema cache", Kind.CACHE_LOAD_FAILED, "failed"),
    (r'"code":"PGRST002"', Kind.CACHE_LOAD_FAILED, "PGRST002"),
    (r"^Listener connected to .* listening for database notifications", Kind.LISTENER, "up"),
    (r"^Listening for (?:database )?notifications on the", Kind.LISTENER, "up"),
    (r"^Failed listening for (?:database )?notifications", Kind.LISTENER, "failed"),
    (r"^Retrying listening for", Kind.LISTENER, "retry"),
    (r"^This is likely a PostgreSQL bug in the notification queue", Kind.LISTENER, "queue_bug"),
    (r"^Starting PostgREST ", Kind.STARTUP, "start"),
    (r"^Attempting to connect to the database", Kind.STARTUP, "connecting"),
    (r"^(?:Connection successful|Successfully connected to )", Kind.STARTUP, "connected"),
    (r"^Attempting to reconnect to the database", Kind.STARTUP, "reconnecting"),
    (r"^(?:API server listening|Listening on (?:port|unix socket))", Kind.STARTUP, "serving"),
    (r"^Admin server listening", Kind.STARTUP, "admin_serving"),
    (r"^Connection Pool initialized", Kind.STARTUP, "pool"),
    (r"^Config re-?loaded", Kind.CONFIG_RELOAD, "loaded"),
    (r"^Failed re-?loading config", Kind.CONFIG_RELOAD, "failed"),
    (r"^Received termination unix signal", Kind.STARTUP, "stop"),
    (r"^Automatic recovery disabled, exiting", Kind.STARTUP, "exit"),
    (r'^\{"code":"PGRST\d{3}"', Kind.OTHER, "error_json"),
)

KEYWORDS: tuple[bytes, ...] = (
    b"chema cache",
    b"otifications",
    b"notification queue",
    b"Starting PostgREST",
    b"onnect",  # connecting, connected, reconnect, Connection successful
    b"server listening",
    b"Listening on",
    b"Config re",
    b"config re",
    b"Failed re",
    b"unix signal",
    b"PGRST",
    b"recovery disabled",
)


def stderr_events(line: pl.Expr) -> list[pl.Expr]:
    """Columns `ts`, `kind`, `detail`, `message`, `code`, `version` for PostgREST stderr lines."""
    message = line.str.extract(PREFIX, 2).str.strip_chars_end()
    kind = pl.lit(None, pl.String)
    detail = pl.lit(None, pl.String)
    for pattern, rule_kind, rule_detail in reversed(RULES):
        hit = message.str.contains(pattern)
        kind = pl.when(hit).then(pl.lit(rule_kind.value)).otherwise(kind)
        detail = pl.when(hit).then(pl.lit(rule_detail)).otherwise(detail)
    channel = message.str.extract(r'on the "?([^"\s]+?)"? channel', 1)
    version = message.str.extract(r"^Starting PostgREST (\S+?)\.{3}$", 1)
    return [
        aware(line.str.extract(PREFIX, 1), TIME_FORMAT).alias("ts"),
        kind.alias("kind"),
        pl.coalesce(
            pl.when(channel.is_not_null()).then(pl.concat_str(detail, pl.lit(" channel="), channel)),
            pl.when(version.is_not_null()).then(pl.concat_str(detail, pl.lit(" version="), version)),
            detail,
        ).alias("detail"),
        message.alias("message"),
        message.str.extract(r'"code":"(PGRST\d{3}|[0-9A-Z]{5})"', 1).alias("code"),
        pl.when(kind.is_not_null()).then(pl.lit("error")).alias("level"),
    ]


def is_stderr_line(line: str) -> bool:
    return _PREFIX_RE.match(line) is not None


_COMPILED_RULES = tuple((re.compile(p), kind, detail) for p, kind, detail in RULES)


def classify_line(line: str) -> tuple[Kind, str] | None:
    """`(kind, detail)` of one PostgREST stderr line by the parser's own rules, for code that
    follows a file line by line; None for a line of another format or a message no rule knows."""
    match = _PREFIX_RE.match(line.rstrip("\r\n"))
    if match is None:
        return None
    message = match.group(2).rstrip()
    return next(((kind, detail) for rx, kind, detail in _COMPILED_RULES if rx.search(message)), None)


class PostgrestStderrFormat(LogFormat):
    name = "postgrest_stderr"
    description = "PostgREST stderr (v9-v16): listener, schema cache loads and reloads"
    keywords = KEYWORDS
    samples = (
        Sample(
            ('21/Aug/2026:14:02:05 +0000: Received a schema cache reload message on the "pgrst" channel',),
            {"kind": "cache_reload", "detail": "notify channel=pgrst", "ts": "2026-08-21 14:02:05+00:00"},
        ),
        Sample(
            ("21/Aug/2026:14:02:05 +0000: Schema cache loaded 15 Relations, 8 Relationships, 8 RPCs, "
             "0 Domain Representations, 4 Media Type Handlers",),
            {"kind": "cache_load"},
        ),
        Sample(("10/May/2024:09:01:02 +0200: Schema cache loaded",),
               {"kind": "cache_load", "ts": "2024-05-10 07:01:02+00:00"}),
        Sample(
            ('21/Aug/2026:13:56:41 +0000: Listener connected to PostgreSQL 16.4 on x86_64-pc-linux-gnu, '
             'compiled by gcc 12.2.0, 64-bit on "db:5432" and listening for database notifications '
             'on the "pgrst" channel',),
            {"kind": "listener", "detail": "up channel=pgrst"},
        ),
        Sample(("10/May/2022:09:01:02 +0000: Listening for notifications on the pgrst channel",),
               {"kind": "listener", "detail": "up channel=pgrst"}),
        Sample(
            ('21/Aug/2026:14:09:00 +0000: Failed to load the schema cache using db-schemas=public and '
             'db-extra-search-path=public. {"code":"57014","details":null,"hint":null,'
             '"message":"canceling statement due to statement timeout"}',),
            {"kind": "cache_load_failed", "code": "57014"},
        ),
        Sample(("21/Aug/2026:13:56:41 +0000: Starting PostgREST 16.2...",),
               {"kind": "startup", "detail": "start version=16.2"}),
        Sample(
            ('21/Aug/2026:13:56:41 +0000: Failed listening for database notifications on the "pgrst" '
             "channel. ERROR:  could not access status of transaction 12345",),
            {"kind": "listener", "detail": "failed channel=pgrst"},
        ),
    )

    def sniff(self, lines: list[str]) -> float:
        return share(lines, is_stderr_line)

    def parse(self, candidates: pl.DataFrame, tz: str = "UTC") -> pl.LazyFrame:
        return candidates.lazy().with_columns(stderr_events(pl.col("line")))
