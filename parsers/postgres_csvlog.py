"""PostgreSQL `csvlog`: quoted fields hold newlines, so the whole file goes to polars' CSV reader.

Columns as the PostgreSQL 15 documentation ("Using CSV-Format Log Output") lists them and
`src/backend/utils/error/csvlog.c` writes them, checked against a PostgreSQL 15 server: 26 from
PostgreSQL 14 on, 24 in 13 (no `leader_pid`, `query_id`), 23 before (no `backend_type`). Only
the first 20 matter here, so every version reads the same way.

polars streams the rows and keeps only those with a DDL/NOTIFY word or an error. A file that
starts in the middle of a record (`tail` of a log) is read from its first record start. Rows
whose time or severity is not what PostgreSQL writes (a torn or garbled record) come back as
`malformed`, so the scanner counts them as skipped.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from typing import Literal, TypedDict

import polars as pl

from parsers.base import LogFormat, Sample
from parsers.postgres_events import RECORD_SCHEMA, RELEVANT, record_events
from parsers.timestamps import iso

COLUMNS = (
    "log_time",
    "user_name",
    "database_name",
    "process_id",
    "connection_from",
    "session_id",
    "session_line_num",
    "command_tag",
    "session_start_time",
    "virtual_transaction_id",
    "transaction_id",
    "error_severity",
    "sql_state_code",
    "message",
    "detail",
    "hint",
    "internal_query",
    "internal_query_pos",
    "context",
    "query",
    "query_pos",
    "location",
    "application_name",
    "backend_type",
    "leader_pid",
    "query_id",
)
NEEDED = COLUMNS[:20]
# Free-text fields: the only ones a newline can be in.
TEXT_COLUMNS = ("message", "detail", "hint", "internal_query", "context", "query")
ERROR_SEVERITIES = ("ERROR", "FATAL", "PANIC")
MIN_FIELDS = 23  # PostgreSQL 9.0-12; 24 in 13, 26 from 14
LOG_TIME = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)? \S+$"
SEVERITIES = ("DEBUG", "DEBUG1", "DEBUG2", "DEBUG3", "DEBUG4", "DEBUG5", "INFO", "NOTICE",
              "WARNING", "ERROR", "LOG", "FATAL", "PANIC")
_RECORD_START = re.compile(rb"(?m)^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_SNIFF = re.compile(
    r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)? [^,]+,(?:\"(?:[^\"]|\"\")*\")?,"
    r"(?:\"(?:[^\"]|\"\")*\")?,\d*,.*,(?:" + "|".join(SEVERITIES) + r"),[0-9A-Z]{5},"
)


class PostgresCsvlogFormat(LogFormat):
    name = "postgres_csvlog"
    description = "PostgreSQL csvlog (log_destination = 'csvlog')"
    whole_file = True
    samples = (
        Sample(
            (
                '2026-11-25 13:02:35.946 UTC,"postgres","app",6707,"[local]",6b06dc6b.1a33,8,"idle",'
                '2026-11-25 13:02:35 UTC,3/10,0,LOG,00000,"statement: ALTER TABLE public.mypoolr',
                "\tADD COLUMN telegram_handle text,",
                '\tADD COLUMN ""créé"" timestamptz;",,,,,,,,,"psql","client backend",,0',
            ),
            {
                "kind": "migration",
                "schema": "public",
                "table": "mypoolr",
                "column": "créé",
                "detail": "ADD COLUMN",
                "ts": "2026-11-25 13:02:35.946000+00:00",
                "line_no": 1,
            },
        ),
        Sample(
            (
                '2026-11-25 13:02:35.952 UTC,"postgres","app",6707,"[local]",6b06dc6b.1a33,18,"INSERT",'
                '2026-11-25 13:02:35 UTC,3/20,0,ERROR,42703,"column ""adminname"" of relation ""mypoolr"" '
                "does not exist\",,,,,,\"INSERT INTO mypoolr (id, adminname) VALUES (1, 'x');\",26,,"
                '"psql","client backend",,0',
            ),
            {"kind": "db_error", "code": "42703", "table": "mypoolr", "column": "adminname"},
        ),
        Sample(
            (
                '2026-11-25 13:02:35.968 UTC,"postgres","app",6710,"[local]",6b06dc6b.1a36,1,"idle",'
                "2026-11-25 13:02:35 UTC,3/27,0,LOG,00000,\"statement: NOTIFY pgrst, 'reload schema';\","
                ',,,,,,,,"psql","client backend"',
            ),
            {"kind": "cache_reload", "detail": "pgrst: reload schema"},
        ),
    )

    def sniff(self, lines: list[str]) -> float:
        considered = [line for line in lines if line.strip()]
        if not considered:
            return 0.0
        hits = sum(1 for line in considered if _SNIFF.match(line))
        if _SNIFF.match(considered[0]):
            # Quoted newlines make many lines continuations; a file that opens with a full
            # csvlog record is csvlog.
            return max(0.95, hits / len(considered))
        return hits / len(considered)

    def parse_document(self, data: bytes, tz: str = "UTC") -> pl.DataFrame:
        first = _RECORD_START.search(data)
        if first is None:
            return pl.DataFrame(schema={"line_no": pl.Int64, "kind": pl.String})
        base_line = data.count(b"\n", 0, first.start())
        rows = read_rows(data[first.start():] if first.start() else data, base_line)
        return document_events(rows, tz)


def read_rows(data: bytes, base_line: int = 0) -> pl.DataFrame:
    """The rows that can matter (DDL or NOTIFY words, errors) and the torn ones, with their
    `line_no` and the columns of `NEEDED` as strings. Never raises.

    polars streams the file: only those rows are ever held, so memory stays near the input's
    size. A file polars refuses (mostly a record torn at the end) is read eagerly: every record
    before the last natively, the tail with Python's lenient csv module.
    """
    try:
        return _rows_that_matter(_scan(data), base_line)
    except Exception:
        pass
    cut = _last_record_start(data)
    try:
        if not cut:
            raise ValueError("no record start to cut at")
        frame = pl.concat([_read_fast(data[:cut]), _read_slowly(data[cut:])], how="diagonal_relaxed")
    except Exception:
        frame = _read_slowly(data)
    return _rows_that_matter(frame.lazy(), base_line)


class _CsvOptions(TypedDict):
    has_header: bool
    infer_schema: bool
    truncate_ragged_lines: bool
    ignore_errors: bool
    encoding: Literal["utf8-lossy"]
    raise_if_empty: bool


# Every field a string, ragged and broken rows kept: the record is rebuilt later.
_CSV_OPTIONS: _CsvOptions = {
    "has_header": False,
    "infer_schema": False,
    "truncate_ragged_lines": True,
    "ignore_errors": True,
    "encoding": "utf8-lossy",
    "raise_if_empty": False,
}


def _scan(data: bytes) -> pl.LazyFrame:
    return pl.scan_csv(data, **_CSV_OPTIONS)


def _read_fast(data: bytes) -> pl.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # polars warns about rows it had to repair
        return pl.read_csv(data, missing_columns="insert", **_CSV_OPTIONS)


def _rows_that_matter(rows: pl.LazyFrame, base_line: int) -> pl.DataFrame:
    names = rows.collect_schema().names()
    if not names:
        return pl.DataFrame(schema={**{name: pl.String for name in NEEDED}, "line_no": pl.Int64, "_valid": pl.Boolean})
    named = rows.rename(dict(zip(names, COLUMNS, strict=False))).with_columns(
        pl.lit(None, dtype=pl.String).alias(name) for name in NEEDED[len(names):]
    )
    # Newlines inside quoted fields, for line numbers: only free-text columns can hold them.
    newlines = pl.sum_horizontal(
        pl.col(name).str.count_matches("\n", literal=True).fill_null(0).cast(pl.Int64) for name in TEXT_COLUMNS
    )
    valid = pl.col("log_time").str.contains(LOG_TIME).fill_null(False) & pl.col("error_severity").is_in(
        SEVERITIES
    ).fill_null(False)
    matters = pl.col("message").str.contains(RELEVANT).fill_null(False) | pl.col("error_severity").is_in(
        ERROR_SEVERITIES
    ).fill_null(False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return (
            named.select(*NEEDED, newlines.alias("_newlines"))
            .with_columns(
                ((pl.col("_newlines") + 1).cum_sum() - pl.col("_newlines") + base_line).alias("line_no"),
                valid.alias("_valid"),
            )
            .filter(~pl.col("_valid") | matters)
            .drop("_newlines")
            .collect(engine="streaming")
        )


def _last_record_start(data: bytes, window: int = 4 << 20) -> int:
    start = max(0, len(data) - window)
    last = 0
    for match in _RECORD_START.finditer(data, start):
        last = match.start()
    return last


def _read_slowly(data: bytes) -> pl.DataFrame:
    """Python's csv module: slower, but it reads what polars refuses. A record cut short (an
    unterminated quote at the end, fewer fields than any PostgreSQL writes) becomes an empty
    row, so it is counted as torn instead of yielding a half statement."""
    rows = []
    reader = csv.reader(io.StringIO(data.decode("utf-8", "replace"), newline=""))
    try:
        for row in reader:
            if not row:
                continue  # a blank line
            if len(row) < MIN_FIELDS:  # cut short: its last field may be cut mid-name
                row = []
            rows.append((row + [None] * len(COLUMNS))[: len(COLUMNS)])
    except csv.Error:
        rows.append([None] * len(COLUMNS))
    return pl.DataFrame(
        rows, schema={f"column_{i + 1}": pl.String for i in range(len(COLUMNS))}, orient="row"
    )


def document_events(rows: pl.DataFrame, tz: str) -> pl.DataFrame:
    """Events of csvlog rows (see `read_rows`); torn rows come back as `malformed`."""
    torn = rows.filter(~pl.col("_valid")).select("line_no")
    recs = rows.filter(pl.col("_valid")).select(
        iso(pl.col("log_time"), tz).alias("ts"),
        pl.col("process_id").alias("pid"),
        pl.col("error_severity").alias("severity"),
        pl.col("sql_state_code").alias("sql_state"),
        pl.col("message"),
        pl.col("query").alias("statement"),
        "line_no",
        pl.col("line_no").alias("record_no"),
        pl.concat_str(
            pl.col("log_time"),
            pl.lit(" ["),
            pl.col("process_id").fill_null(""),
            pl.lit("] "),
            pl.col("error_severity"),
            pl.lit(":  "),
            pl.col("message").fill_null(""),
            pl.when(pl.col("query").is_not_null())
            .then(pl.lit("\nSTATEMENT:  ") + pl.col("query"))
            .otherwise(pl.lit("")),
        ).alias("raw"),
    ).cast(RECORD_SCHEMA)
    events = record_events(recs)
    if torn.height:
        malformed = torn.with_columns(pl.lit(None, dtype=pl.String).alias("kind"), pl.lit(True).alias("malformed"))
        events = pl.concat([events, malformed], how="diagonal_relaxed")
    return events
