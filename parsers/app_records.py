"""What the application-log formats share: levels, request ids, quoting, one event per record.

`python_logging`, `json_lines` and `node_console` all read logs that an application wrote after
its PostgREST client received an error. They differ in layout, not in these details.
"""

from __future__ import annotations

import polars as pl

from runbook.events import PGRST204, RELATED_DB_CODES, SCHEMA_CACHE_FAMILY, Kind

# `docker compose logs` (`bot-1  | `, compose v1 `bot_1  | `) and `pm2 logs` (`0|bot  | `).
PREFIX = r"(?:\d+\|[\w.-]+\s*\|\s?|[\w.-]+[-_]\d+\s*\|\s?)"
DATE_TIME = r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}"
# A timestamp as `parsers.timestamps.iso` reads it: `,mmm` or `.fff`, optional zone.
TIMESTAMP = DATE_TIME + r"(?:[,.]\d{1,9})?(?: ?(?:Z|[+-]\d{2}:?\d{2}|UTC|GMT)\b)?"

# Level words as loggers spell them (any case), to the normalized level of the event table.
LEVEL_WORDS: dict[str, str] = {
    "trace": "debug",
    "debug": "debug",
    "verbose": "debug",
    "silly": "debug",
    "info": "info",
    "information": "info",
    "notice": "info",
    "http": "info",
    "warn": "warning",
    "warning": "warning",
    "err": "error",
    "error": "error",
    "exception": "error",
    "crit": "critical",
    "critical": "critical",
    "fatal": "critical",
    "alert": "critical",
    "emerg": "critical",
    "emergency": "critical",
    "panic": "critical",
}
# Numeric levels: pino and bunyan (10 trace .. 60 fatal) and Python's `levelno` (10 .. 50).
PINO_LEVELS = {"10": "debug", "20": "debug", "30": "info", "40": "warning", "50": "error", "60": "critical"}
PYTHON_LEVELS = {"10": "debug", "20": "info", "30": "warning", "40": "error", "50": "critical"}

# `request_id=abc`, `req=abc`, `requestId: "abc"`, `x-request-id=abc` in free text.
REQUEST_ID = (
    r"(?i)\b(?:x[-_]request[-_]id|request[-_]?id|req[-_]?id|req)\b[\"']?\s*[=:]\s*[\"']?"
    r"([A-Za-z0-9](?:[\w.:/-]*\w)?)"
)

# Codes a structured logger may carry in a field of its own (flattened `error_code` ...).
FIELD_CODE = r"^(PGRST\d{3}|42703|42P01)$"


def level_word(expr: pl.Expr) -> pl.Expr:
    """A level word (`WARNING`, `warn`, `Fatal` ...) normalized; null when unknown."""
    return (
        expr.str.strip_chars()
        .str.to_lowercase()
        .replace_strict(LEVEL_WORDS, default=None, return_dtype=pl.String)
    )


def level_number(expr: pl.Expr, scale: dict[str, str]) -> pl.Expr:
    """A numeric level (as text, `50` or `50.0`) normalized on `scale`; null when unknown."""
    whole = expr.str.strip_chars().str.replace(r"\.0+$", "")
    return whole.replace_strict(scale, default=None, return_dtype=pl.String)


def quotes_unescaped(text: pl.Expr) -> pl.Expr:
    r"""`text` with `\'` (Python repr, util.inspect) and `\\'` (that repr inside JSON) as `'`.

    A repr switches to single quotes and escapes them when a message holds both quote kinds
    (a column named `col"x` in `Could not find the 'col"x' column ...`); the error wording only
    matches once the quotes around the names are plain again.
    """
    return text.str.replace_all(r"\\{1,2}'", "'")


def request_id_in(*texts: pl.Expr) -> pl.Expr:
    """The first `request_id=...`-like token found in `texts`, in order; null when none."""
    return pl.coalesce([text.str.extract(REQUEST_ID, 1) for text in texts])


def kind_of(code: pl.Expr) -> pl.Expr:
    """The event kind of a code taken from a field rather than from a message (as
    `error_body.error_columns` decides it for codes found in text)."""
    return (
        pl.when(code.is_in(list(RELATED_DB_CODES)))
        .then(pl.lit(Kind.DB_ERROR.value))
        .when(code.is_in([PGRST204, *SCHEMA_CACHE_FAMILY]))
        .then(pl.lit(Kind.SCHEMA_CACHE_ERROR.value))
        .when(code.is_not_null())
        .then(pl.lit(Kind.OTHER.value))
    )


def one_event_per_record(frame: pl.LazyFrame, *, merge_repeats: bool) -> pl.LazyFrame:
    """Events of one record merged: a record printed over several lines is one event.

    - A bare code line (`code: 'PGRST204',` of a util.inspect object, `Error PGRST204:` of a
      repr) yields nothing when a line of the same record names the table for that code.
    - With `merge_repeats`, the same error repeated in one record (a log message quoting the
      exception, then the traceback's last line; a chained traceback; an `Error` and its
      `[cause]`; a JSON object and the text traceback printed after it) counts once, as
      `runbook.incidents.grouping` counts a record once.

    Merged rows keep their place with a null `kind` (the scanner drops them and counts them in
    `lines_skipped`).
    """
    is_event = pl.col("kind").is_not_null()
    named = is_event & pl.col("table").is_not_null()
    bare_code_covered = (
        is_event
        & pl.col("table").is_null()
        & named.any().over("record_no", pl.col("code"))
    )
    drop = bare_code_covered
    if merge_repeats:
        key = pl.struct("record_no", "code", "schema", "table", "column", pl.col("kind"))
        drop = drop | (is_event & ~key.is_first_distinct())
    return frame.sort("line_no").with_columns(
        pl.when(drop).then(pl.lit(None, dtype=pl.String)).otherwise(pl.col("kind")).alias("kind")
    )
