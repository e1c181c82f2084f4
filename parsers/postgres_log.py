"""PostgreSQL server log, stderr text: migrations, reload NOTIFYs and 42703/42P01 errors.

Any `log_line_prefix` whose last part is the severity: the Debian default `%m [%p] %q%u@%d `
(`2026-11-18 09:14:02.311 UTC [8812] postgres@app LOG:  statement: ALTER TABLE ...`), `%t [%p] `,
`%m [%p] ` (the Docker image), RDS's `%t:%r:%u@%d:[%p]:`, with or without a `docker compose`
service prefix (`postgres-1  | `). The time and the pid are taken from the prefix wherever they
are; a zone abbreviation other than UTC/GMT is read as `--tz` (see `parsers.timestamps`).

PostgreSQL writes a message that spans lines with a tab after each newline, so a multi-line
statement arrives as its first line plus tab-led continuation lines; `STATEMENT:`, `DETAIL:` and
friends are separate prefixed lines that belong to the ERROR above them. `is_record_start` tells
the scanner exactly that, the `\\t` keyword brings the continuation lines in, and `parse` stitches
each record back together before `parsers.postgres_events` reads it.
"""

from __future__ import annotations

import re

import polars as pl

from parsers.base import LogFormat, Sample
from parsers.postgres_events import RECORD_SCHEMA, RELEVANT, empty_records, record_events
from parsers.timestamps import iso

DOCKER_PREFIX = r"^[A-Za-z0-9][\w.-]*\s+\|\s?"  # `docker compose logs`: "postgres-1  | "
SEVERITIES = "LOG|ERROR|WARNING|NOTICE|INFO|DEBUG[1-5]?|FATAL|PANIC"
FIELDS = "STATEMENT|DETAIL|HINT|CONTEXT|LOCATION|QUERY"
# prefix, tag, text: the first `TAG:  ` (two spaces) at the start or after a prefix separator.
TAGGED = rf"^(?:(.*?)[\s\]:>])?({SEVERITIES}|{FIELDS}):  (\S.*)$"
TIMESTAMP = (
    r"(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?"
    r"(?: ?(?:Z|[+-]\d{2}(?::?\d{2})?|[A-Za-z]{2,5}))?)"
)
PID = r"\[(\d+)(?:-\d+)?\]"

# `statement: ` / `execute <name>: ` carry every logged statement (DDL, NOTIFY, pg_notify);
# `does not exist` is in every 42703/42P01 message (verbose ones too); `STATEMENT:  ` is the SQL
# of a failed statement; a tab starts every continuation line of a multi-line message. Few on
# purpose: the scanner makes one pass over the bytes per keyword (a tab costs least).
KEYWORDS = ("statement: ", "execute ", "does not exist", "STATEMENT:  ", "\t")
# A record can matter only if a line of it holds one of these: a DDL/NOTIFY word or an error.
INTERESTING = rf"{RELEVANT}|\b(?:ERROR|FATAL|PANIC|STATEMENT):  "

_DOCKER = re.compile(DOCKER_PREFIX)
_TAGGED = re.compile(TAGGED)
# A record's first line: not indented (after any compose prefix), a severity tag, a message.
_RECORD_START = re.compile(rf"(?:{DOCKER_PREFIX[1:]})?(?![ \t])(?:[^\t]*?[\s\]:>])?(?:{SEVERITIES}):  \S")
# What a log_line_prefix leaves before the severity: a time (%m, %t, %n), a pid, user@db, or
# nothing. Keeps `<time>: Failed listening ... ERROR:  ...` (PostgREST quoting PostgreSQL) out.
_PREFIX_LOOK = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}|\[\d+(?:-\d+)?\]|^\d{10}\.\d{3}|@")


def _body(line: str) -> str:
    return _DOCKER.sub("", line, count=1)


class PostgresLogFormat(LogFormat):
    name = "postgres_log"
    description = "PostgreSQL server log (stderr text, any log_line_prefix)"
    keywords = tuple(keyword.encode() for keyword in KEYWORDS)
    samples = (
        Sample(
            (
                "2026-11-18 09:14:02.311 UTC [8812] postgres@app LOG:  statement: "
                "ALTER TABLE public.members ADD COLUMN telegram_handle text;",
            ),
            {
                "kind": "migration",
                "schema": "public",
                "table": "members",
                "column": "telegram_handle",
                "detail": "ADD COLUMN",
                "ts": "2026-11-18 09:14:02.311000+00:00",
            },
        ),
        Sample(
            (
                "2026-11-25 13:02:35.946 UTC [6707] postgres@app LOG:  statement: ALTER TABLE public.mypoolr",
                "\t\tADD COLUMN telegram_handle text,",
                '\t\tADD COLUMN "créé" timestamptz;',
            ),
            {"kind": "migration", "table": "mypoolr", "column": "créé", "detail": "ADD COLUMN"},
        ),
        Sample(
            (
                "2026-11-25 13:02:35.947 UTC [6707] postgres@app LOG:  statement: "
                'alter table MyPoolr rename column "adminName" to admin_id;',
            ),
            {"table": "mypoolr", "column": "adminName", "detail": 'RENAME COLUMN "adminName" TO admin_id'},
        ),
        Sample(
            ("2026-11-25 13:02:35 UTC [6710] LOG:  statement: NOTIFY pgrst, 'reload schema';",),
            {"kind": "cache_reload", "detail": "pgrst: reload schema"},
        ),
        Sample(
            (
                "2026-11-25 13:18:05 UTC [31700]: [3-1] user=postgres,db=app,app=psql,client=[local] "
                'LOG:  statement: DROP TABLE IF EXISTS "Billing"."Old ""Invoices""", public.tmp;',
            ),
            {"kind": "migration", "schema": "Billing", "table": 'Old "Invoices"', "detail": "DROP TABLE"},
        ),
        Sample(
            (
                "postgres-1  | 2026-11-25 13:02:35.968 UTC [6710] postgres@app LOG:  execute <unnamed>: "
                "SELECT pg_notify('pgrst', 'reload schema')",
            ),
            {"kind": "cache_reload", "detail": "pgrst: reload schema"},
        ),
        Sample(
            (
                '2026-11-25 13:02:35.952 UTC [6707] postgres@app ERROR:  column "adminname" of relation '
                '"mypoolr" does not exist at character 26',
                "2026-11-25 13:02:35.952 UTC [6707] postgres@app STATEMENT:  INSERT INTO mypoolr "
                "(id, adminname) VALUES (1, 'x');",
            ),
            {"kind": "db_error", "code": "42703", "table": "mypoolr", "column": "adminname"},
        ),
        Sample(
            (
                '2026-11-25 13:02:35.952 UTC [6707] postgres@app ERROR:  column "adminname" does not exist '
                "at character 8",
                "2026-11-25 13:02:35.952 UTC [6707] postgres@app STATEMENT:  SELECT adminname FROM mypoolr;",
            ),
            {"kind": "db_error", "code": "42703", "table": "mypoolr", "column": "adminname"},
        ),
        Sample(
            (
                "2026-11-25 13:02:35.983 UTC [31615] postgres@app ERROR:  column p.adminname does not exist "
                "at character 8",
                "2026-11-25 13:02:35.983 UTC [31615] postgres@app STATEMENT:  SELECT p.adminname FROM public.mypoolr p;",
            ),
            {"kind": "db_error", "code": "42703", "schema": "public", "table": "mypoolr", "column": "adminname"},
        ),
        Sample(
            (
                '2026-11-25 13:02:35.985 UTC [6713] postgres@app ERROR:  42P01: relation "Missing Table" '
                "does not exist at character 15",
                "2026-11-25 13:02:35.985 UTC [6713] postgres@app LOCATION:  parserOpenTable, parse_relation.c:1392",
                '2026-11-25 13:02:35.985 UTC [6713] postgres@app STATEMENT:  select * from "Missing Table";',
            ),
            {"kind": "db_error", "code": "42P01", "table": "Missing Table"},
        ),
    )

    def sniff(self, lines: list[str]) -> float:
        considered = [line for line in lines if line.strip()]
        if not considered:
            return 0.0
        tagged = continued = 0
        for line in considered:
            body = _body(line)
            if body.startswith("\t"):
                continued += 1
            elif (match := _TAGGED.match(body)) and (not match.group(1) or _PREFIX_LOOK.search(match.group(1))):
                tagged += 1
        return (tagged + continued) / len(considered) if tagged else 0.0

    def is_record_start(self, line: str) -> bool:
        return _RECORD_START.match(line) is not None

    def parse(self, candidates: pl.DataFrame, tz: str = "UTC") -> pl.DataFrame:
        return record_events(records(candidates, tz))


def records(candidates: pl.DataFrame, tz: str = "UTC") -> pl.DataFrame:
    """One row per PostgreSQL record from candidate lines: the head's message with its
    continuation lines, and the STATEMENT (with its continuation lines) that follows an ERROR."""
    if candidates.height == 0:
        return empty_records()
    body = pl.col("line").str.replace(DOCKER_PREFIX, "")
    # Every record's first line comes from `head`, whether or not it was a candidate itself. A
    # head that holds a keyword but is not among these candidates was read in an earlier chunk
    # (the scanner keeps context across chunks): that record was reported there, so it is
    # dropped here rather than reported twice. Records with no DDL/NOTIFY word and no error are
    # dropped before any real work (with log_statement = 'all' that is nearly all of them).
    heads = (
        candidates.group_by("record_no")
        .agg(
            pl.col("head").first(),
            (pl.col("line_no") == pl.col("record_no")).any().alias("here"),
            pl.col("line").str.contains(INTERESTING).any().alias("interesting"),
        )
        .filter(
            (pl.col("here") | ~pl.col("head").str.contains_any(list(KEYWORDS)))
            & (pl.col("interesting") | pl.col("head").str.contains(INTERESTING))
        )
        .select(
            "record_no",
            pl.col("record_no").alias("line_no"),
            pl.col("head").str.replace(DOCKER_PREFIX, "").alias("body"),
        )
    )
    continued = candidates.filter(
        (pl.col("line_no") != pl.col("record_no")) & pl.col("record_no").is_in(heads["record_no"].implode())
    ).select("record_no", "line_no", body.alias("body"))
    rows = (
        pl.concat([heads, continued], how="vertical")
        .unique(subset="line_no", keep="first")
        .sort("line_no")
        .with_columns(
            pl.col("body").str.starts_with("\t").alias("is_tab"),
            pl.col("body").str.extract_groups(TAGGED).struct.rename_fields(["prefix", "tag", "text"]).alias("parts"),
        )
        .unnest("parts")
    )
    # A segment: a tagged line and the untagged lines right below it (tab-led as PostgreSQL
    # writes them, or bare where something stripped the tab). One after a gap (its tagged line
    # was not a candidate) starts a segment without a tag, which is ignored.
    seg_start = (
        (~pl.col("is_tab") & pl.col("tag").is_not_null())
        | (pl.col("line_no") != pl.col("line_no").shift(1) + 1)
        | (pl.col("record_no") != pl.col("record_no").shift(1))
    ).fill_null(True)
    piece = (
        pl.when(pl.col("is_tab"))
        .then(pl.col("body").str.slice(1))
        .when(pl.col("tag").is_null())
        .then(pl.col("body"))
        .otherwise(pl.col("text"))
    )
    segments = (
        rows.with_columns(seg_start.cum_sum().alias("seg"), piece.alias("piece"))
        .group_by("seg", maintain_order=True)
        .agg(
            pl.col("record_no").first(),
            pl.col("line_no").first(),
            pl.col("tag").first(),
            pl.col("prefix").first(),
            pl.col("piece").str.join("\n").alias("text"),
            pl.col("body").str.join("\n").alias("raw"),
        )
        .filter(pl.col("tag").is_not_null())
    )
    head_segments = segments.filter(
        (pl.col("line_no") == pl.col("record_no")) & pl.col("tag").str.contains(f"^(?:{SEVERITIES})$")
    )
    statements = (
        segments.filter(pl.col("tag") == "STATEMENT")
        .group_by("record_no")
        .agg(pl.col("text").first().alias("statement"), pl.col("raw").first().alias("statement_raw"))
    )
    joined = head_segments.join(statements, on="record_no", how="left", maintain_order="left")
    return joined.select(
        iso(pl.col("prefix").str.extract(TIMESTAMP, 1), tz).alias("ts"),
        pl.col("prefix").str.extract(PID, 1).alias("pid"),
        pl.col("tag").alias("severity"),
        pl.lit(None, dtype=pl.String).alias("sql_state"),
        pl.col("text").alias("message"),
        pl.col("statement"),
        pl.col("record_no").alias("line_no"),
        pl.col("record_no"),
        pl.when(pl.col("statement_raw").is_null())
        .then(pl.col("raw"))
        .otherwise(pl.concat_str(pl.col("raw"), pl.lit("\n"), pl.col("statement_raw")))
        .alias("raw"),
    ).cast(RECORD_SCHEMA)
