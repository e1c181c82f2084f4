"""The normalized event table: the one shape every parser produces and everything else reads.

One row is one log record that can matter to a schema-cache incident (see the README's "How it works"): an error
seen by a client, an access-log line, a cache reload or load, a listener change, a migration
(DDL statement), a PostgreSQL error. Parsers fill what their format knows and leave the rest null.
"""

from __future__ import annotations

from enum import StrEnum

import polars as pl
from polars.datatypes import DataTypeClass

from runbook.timestamps import parse_ts as parse_ts


class Kind(StrEnum):
    """What an event says happened. Stable strings: scripts and the journal rely on them."""

    SCHEMA_CACHE_ERROR = "schema_cache_error"  # PGRST204 and its family, seen by a client
    ACCESS = "access"  # a PostgREST access-log or gateway (edge) request line
    CACHE_RELOAD = "cache_reload"  # a reload was asked for: NOTIFY received/sent, SIGUSR1 rerun
    CACHE_LOAD = "cache_load"  # PostgREST confirmed a (re)load: "Schema cache loaded ..."
    CACHE_LOAD_FAILED = "cache_load_failed"  # "Failed to load the schema cache ..." and friends
    LISTENER = "listener"  # listener up / failed / retrying (detail says which)
    STARTUP = "startup"  # PostgREST starting, connecting, serving
    CONFIG_RELOAD = "config_reload"
    MIGRATION = "migration"  # a DDL statement touching a table or column (level "error": it
    # failed and did not apply; RENAME COLUMN: `column` is the old name, `detail` has both)
    DB_ERROR = "db_error"  # PostgreSQL 42703 / 42P01 and other server-side errors
    OTHER = "other"


PGRST204 = "PGRST204"
# Codes that are about the schema cache but are not PGRST204: collected as related events.
SCHEMA_CACHE_FAMILY = ("PGRST200", "PGRST201", "PGRST202", "PGRST203", "PGRST205")
RELATED_DB_CODES = ("42703", "42P01")

TS_TYPE = pl.Datetime("us", "UTC")

# Column order is part of the contract; `empty_events()` and `conform()` keep it.
_EVENT_TYPES: dict[str, pl.DataType | DataTypeClass] = {
    "ts": TS_TYPE,  # UTC; null when the record carries no time
    "source": pl.String,  # path, "-" for stdin, or a store URL (secrets stripped)
    "line_no": pl.Int64,  # 1-based line of the matching line in its source
    "record_no": pl.Int64,  # 1-based line where the record (traceback, object) begins
    "format": pl.String,  # parser name, e.g. "postgrest_stderr"
    "kind": pl.String,  # a Kind value
    "level": pl.String,  # normalized: debug/info/warning/error/critical, or null
    "code": pl.String,  # PGRST204, PGRST205, 42703, ...
    "schema": pl.String,
    "table": pl.String,  # exact case, unquoted
    "column": pl.String,  # exact case, unquoted
    "method": pl.String,  # HTTP method
    "path": pl.String,  # request path (with query string as logged)
    "status": pl.Int32,  # HTTP status
    "request_id": pl.String,
    "detail": pl.String,  # kind-specific: DDL action, listener state, channel, version ...
    "message": pl.String,  # the human message, redacted
    "raw": pl.String,  # the literal line(s), redacted and truncated
    # Pre-aggregated rows (a log store answers with counts, not lines): this row stands for
    # `weight` requests between `ts` and `ts_end`. Null for an ordinary log record (one request).
    "weight": pl.Int64,
    "ts_end": TS_TYPE,
    "pid": pl.String,  # the PostgreSQL backend's process id, where its log line carries one
}
EVENT_SCHEMA = pl.Schema(_EVENT_TYPES)

EVENT_COLUMNS: tuple[str, ...] = tuple(EVENT_SCHEMA)

RAW_MAX_CHARS = 4000


_EMPTY: pl.DataFrame | None = None


def empty_events() -> pl.DataFrame:
    """An event table with no rows and the full schema: a copy of one made once (building
    a frame of 20 typed columns costs 0.1 ms, which a folder of 100,000 empty files paid
    several times each; a copy costs under a microsecond)."""
    global _EMPTY
    if _EMPTY is None:
        _EMPTY = pl.DataFrame(schema=EVENT_SCHEMA)
    return _EMPTY.clone()


def concat_events(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Event tables one after another (empty ones dropped); an empty table when none has rows."""
    frames = [f for f in frames if f.height]
    return pl.concat(frames, how="vertical") if frames else empty_events()


def conform(frame: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """Add missing event columns as nulls, cast to the contract types, order the columns.

    Parsers build only the columns they know; this makes every parser's output stackable.
    """
    lazy = frame.lazy()
    names = lazy.collect_schema().names()
    exprs = []
    for name, dtype in EVENT_SCHEMA.items():
        if name in names:
            exprs.append(pl.col(name).cast(dtype, strict=False))
        else:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
    return lazy.select(exprs)
