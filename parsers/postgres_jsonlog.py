"""PostgreSQL 15+ `jsonlog`: one JSON object per line, read with polars' JSON path functions.

Keys as `src/backend/utils/error/jsonlog.c` writes them (checked against a PostgreSQL 15 server):
`timestamp` (`2026-11-25 13:02:35.952 UTC`), `user`, `dbname`, `pid`, `remote_host`,
`session_id`, `line_num`, `ps`, `session_start`, `vxid`, `txid`, `error_severity`, `state_code`,
`message`, `detail`, `hint`, `internal_query`, `context`, `statement`, `cursor_position`,
`func_name`/`file_name`/`file_line_num` (verbose), `application_name`, `backend_type`,
`leader_pid`, `query_id`. Keys with no value are left out, so any of them may be missing.
Multi-line statements arrive as `\\n` escapes inside one line. A line that is not valid JSON
yields nothing and is counted as skipped.
"""

from __future__ import annotations

import polars as pl

from parsers.base import LogFormat, Sample
from parsers.postgres_events import RECORD_SCHEMA, RELEVANT, empty_records, record_events
from parsers.timestamps import iso

INTERESTING = rf'{RELEVANT}|"error_severity":"(?:ERROR|FATAL|PANIC)"|"state_code":"42(?:703|P01)"'


_FIELDS = pl.Struct(
    {name: pl.String for name in ("timestamp", "pid", "error_severity", "state_code", "message", "statement")}
)


def _key(name: str) -> pl.Expr:
    return pl.col("line").str.json_path_match(f"$.{name}")


class PostgresJsonlogFormat(LogFormat):
    name = "postgres_jsonlog"
    description = "PostgreSQL 15+ jsonlog (log_destination = 'jsonlog')"
    # Logged statements (DDL, NOTIFY, pg_notify), the two SQLSTATEs that matter, and any ERROR
    # (one right after a DDL statement of the same session tells that the DDL did not apply).
    keywords = (b"statement: ", b"execute ", b'"42703"', b'"42P01"', b'"error_severity":"ERROR"')
    samples = (
        Sample(
            (
                '{"timestamp":"2026-11-25 13:02:35.946 UTC","user":"postgres","dbname":"app","pid":6707,'
                '"remote_host":"[local]","session_id":"6b06dc6b.1a33","line_num":8,"ps":"idle",'
                '"session_start":"2026-11-25 13:02:35 UTC","vxid":"3/10","txid":0,"error_severity":"LOG",'
                '"message":"statement: ALTER TABLE public.mypoolr\\n\\tADD COLUMN telegram_handle text,\\n'
                '\\tADD COLUMN \\"créé\\" timestamptz;","application_name":"psql",'
                '"backend_type":"client backend","query_id":0}',
            ),
            {
                "kind": "migration",
                "schema": "public",
                "table": "mypoolr",
                "column": "créé",
                "detail": "ADD COLUMN",
                "ts": "2026-11-25 13:02:35.946000+00:00",
            },
        ),
        Sample(
            (
                '{"timestamp":"2026-11-25 13:02:35.968 UTC","user":"postgres","dbname":"app","pid":6710,'
                '"error_severity":"LOG","message":"statement: NOTIFY pgrst, \'reload schema\';",'
                '"backend_type":"client backend","query_id":0}',
            ),
            {"kind": "cache_reload", "detail": "pgrst: reload schema"},
        ),
        Sample(
            (
                '{"timestamp":"2026-11-25 13:02:35.952 UTC","user":"postgres","dbname":"app","pid":6707,'
                '"ps":"SELECT","error_severity":"ERROR","state_code":"42703","message":"column '
                '\\"adminname\\" does not exist","statement":"SELECT adminname FROM mypoolr;",'
                '"cursor_position":8,"application_name":"psql","backend_type":"client backend","query_id":0}',
            ),
            {"kind": "db_error", "code": "42703", "table": "mypoolr", "column": "adminname"},
        ),
        Sample(
            (
                '{"timestamp":"2026-11-25 13:02:35.985 UTC","pid":6713,"error_severity":"ERROR",'
                '"state_code":"42P01","message":"relation \\"billing.Invoice \\"Q\\"\\" does not exist",'
                '"statement":"select * from billing.\\"Invoice \\"\\"Q\\"\\"\\"","backend_type":"client backend"}',
            ),
            {"kind": "db_error", "code": "42P01", "schema": "billing", "table": 'Invoice "Q"'},
        ),
    )

    def sniff(self, lines: list[str]) -> float:
        def looks(line: str) -> bool:
            line = line.strip()
            return (
                line.startswith("{")
                and '"error_severity":' in line
                and '"timestamp":' in line
                and '"event_message"' not in line
            )

        considered = [line for line in lines if line.strip()]
        return sum(map(looks, considered)) / len(considered) if considered else 0.0

    def parse(self, candidates: pl.DataFrame, tz: str = "UTC") -> pl.DataFrame:
        return record_events(records(candidates, tz))


def records(candidates: pl.DataFrame, tz: str = "UTC") -> pl.DataFrame:
    """One record per valid jsonlog line (invalid JSON gives null fields and is dropped)."""
    if candidates.height == 0:
        return empty_records()
    # Decoding JSON is the costly part: only lines that can matter get there.
    lines = candidates.filter(pl.col("line").str.contains(INTERESTING))
    try:
        # One decode per line; polars refuses the whole column if one line is not JSON.
        fields = lines.select(pl.col("line").str.json_decode(_FIELDS).alias("j")).unnest("j")
    except Exception:
        fields = lines.select(_key(name).alias(name) for name in _FIELDS.to_schema())
    return (
        pl.concat([lines.select("line_no", "record_no", "line"), fields], how="horizontal")
        .select(
            iso(pl.col("timestamp"), tz).alias("ts"),
            pl.col("pid"),
            pl.col("error_severity").alias("severity"),
            pl.col("state_code").alias("sql_state"),
            "message",
            "statement",
            "line_no",
            "record_no",
            pl.col("line").alias("raw"),
        )
        .filter(pl.col("message").is_not_null() & pl.col("severity").is_not_null())
        .cast(RECORD_SCHEMA)
    )
