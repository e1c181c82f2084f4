"""PostgREST's access log (stdout), Apache combined style (reference/postgrest.md section 2.1).

`<source> - <role|-> [<time>] "<METHOD> <path> <HTTP/x.y>" <status> <size|-> "<referer>" "<ua>"`.
The role is always `-` in v9, the source is `-` on a unix socket, and the size is `-` before v13.
PGRST204 is a 400 here without its body: the 400s and the 404 of a missing table are kept as
lines, for correlation with the clients' logs. Every other write (POST, PATCH, PUT) is counted,
not kept: `tally` folds those lines into one weighted row per (minute, method, path, status),
the denominator of "X of N writes failed" and of the write error rate.
"""

from __future__ import annotations

import re

import polars as pl

from parsers.base import LogFormat, Sample, share
from parsers.postgrest_stderr import CONTAINER_PREFIX
from parsers.timestamps import aware
from runbook.events import Kind

ACCESS = (
    CONTAINER_PREFIX
    + r'(\S+) - (\S+) \[(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] '
    r'"([A-Z]+) (\S+) ([^"]*)" (\d{3}) (\d+|-)(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?'
)
_ACCESS_RE = re.compile(ACCESS)
# Failed writes (PGRST204 is a 400) and missing tables (PGRST205, 404): each keyword costs a
# pass over the bytes, and other statuses feed no incident.
KEYWORDS: tuple[bytes, ...] = (b'" 400 ', b'" 404 ')
# The request line of a write, right after the time: `] "POST /`, `] "PATCH /`, `] "PUT /`.
# One keyword for the three (each keyword is one more pass over the bytes); `tally` keeps only
# the write methods. Reads (GET, HEAD) are most lines of an access log and are not counted.
TALLY_KEYWORDS: tuple[bytes, ...] = (b'] "P',)
TALLY_METHODS = ("POST", "PATCH", "PUT")
# Only the fields a count needs; the time is cut at the minute, its seconds kept apart so that
# a folded row still says its first and last second.
_TALLY = (
    r'\[(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}):(\d{2}) ([+-]\d{4})\] '
    r'"([A-Z]+) ([^ ?"]*)[^ "]* [^"]*" (\d{3}) (?:\d+|-)'
)


def access_events(line: pl.Expr) -> list[pl.Expr]:
    """Columns `ts`, `kind`, `method`, `path`, `status`, `detail` for access-log lines.

    The regex runs once per line: every column reads a field of one `extract_groups` (polars
    computes the shared expression once), where one `extract` per column ran it seven times.
    """
    groups = line.str.extract_groups(ACCESS)

    def group(n: int) -> pl.Expr:
        return groups.struct.field(str(n))

    return [
        aware(group(3), "%d/%b/%Y:%H:%M:%S %z").alias("ts"),
        pl.when(group(1).is_not_null()).then(pl.lit(Kind.ACCESS.value)).alias("kind"),
        group(4).alias("method"),
        group(5).alias("path"),
        group(7).cast(pl.Int32, strict=False).alias("status"),
        pl.concat_str(pl.lit("role="), group(2), pl.lit(" size="), group(8)).alias("detail"),
        group(10).alias("message"),  # user agent: which client
        pl.lit("info").alias("level"),
    ]


def tally_access(lines: pl.Series) -> tuple[pl.DataFrame, int]:
    """Write request lines (any status but those kept as lines) folded into weighted rows, and
    how many lines of a write request could not be read (a cut or garbled line).

    One row per (minute, method, path without its query, status): `weight` lines between `ts`
    (the first second) and `ts_end` (the last), event columns as `access_events` names them.
    A line that is not the request line of a write (another method) is not counted.
    """
    parsed = (
        pl.DataFrame({"line": lines})
        .lazy()
        .select(
            pl.col("line").str.extract_groups(_TALLY).alias("f"),
            pl.col("line").str.contains(r'\] "(?:POST|PATCH|PUT) ').alias("write"),
        )
        .unnest("f")
        .collect()
    )
    unread = parsed.filter(pl.col("write") & pl.col("1").is_null()).height
    fields = (
        parsed.lazy()
        .filter(pl.col("4").is_in(TALLY_METHODS))
        .group_by(["1", "3", "4", "5", "6"])
        .agg(pl.len().alias("weight"), pl.col("2").min().alias("first"), pl.col("2").max().alias("last"))
    )

    rows = fields.select(
        at("first").alias("ts"),
        at("last").alias("ts_end"),
        pl.lit(Kind.ACCESS.value).alias("kind"),
        pl.lit("info").alias("level"),
        pl.col("4").alias("method"),
        pl.col("5").alias("path"),
        pl.col("6").cast(pl.Int32, strict=False).alias("status"),
        pl.col("weight").cast(pl.Int64),
    ).collect()
    bad_time = rows.filter(pl.col("ts").is_null() | pl.col("ts_end").is_null())  # 31/Feb, +9999
    if bad_time.height:
        unread += int(bad_time["weight"].sum())
        rows = rows.filter(pl.col("ts").is_not_null() & pl.col("ts_end").is_not_null())
    return rows, unread


def at(second: str) -> pl.Expr:
    """The time of a `_TALLY` match with the seconds of column `second`, in UTC."""
    text = pl.concat_str(pl.col("1"), pl.lit(":"), pl.col(second), pl.lit(" "), pl.col("3"))
    return aware(text, "%d/%b/%Y:%H:%M:%S %z")


def is_access_line(line: str) -> bool:
    return _ACCESS_RE.match(line) is not None


class PostgrestAccessFormat(LogFormat):
    name = "postgrest_access"
    description = "PostgREST access log (stdout), v9-v16"
    keywords = KEYWORDS
    tally_keywords = TALLY_KEYWORDS
    samples = (
        Sample(
            ('127.0.0.1 - web_anon [21/Aug/2026:13:56:52 +0000] "POST /profiles?columns=open_to_work_email '
             'HTTP/1.1" 400 139 "" "python-requests/2.32.3"',),
            {"kind": "access", "method": "POST", "status": 400,
             "path": "/profiles?columns=open_to_work_email", "ts": "2026-08-21 13:56:52+00:00"},
        ),
        Sample(
            ('127.0.0.1 - web_anon [10/May/2024:09:01:02 +0000] "POST /profiles HTTP/1.1" 400 - "" "curl/8.4.0"',),
            {"kind": "access", "status": 400, "detail": "role=web_anon size=-"},
        ),
        Sample(
            ('- - authenticated [21/Aug/2026:13:56:53 +0000] "PATCH /profiles?id=eq.7 HTTP/1.1" 400 139 "" "postgrest-js/1.x"',),
            {"kind": "access", "method": "PATCH"},
        ),
    )

    def sniff(self, lines: list[str]) -> float:
        return share(lines, is_access_line)

    def parse(self, candidates: pl.DataFrame, tz: str = "UTC") -> pl.LazyFrame:
        return candidates.lazy().with_columns(access_events(pl.col("line")))

    def tally(self, lines: pl.Series, tz: str = "UTC") -> tuple[pl.DataFrame, int]:
        return tally_access(lines)
