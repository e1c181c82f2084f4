"""PostgREST's access log (stdout), Apache combined style (reference/postgrest.md section 2.1).

`<source> - <role|-> [<time>] "<METHOD> <path> <HTTP/x.y>" <status> <size|-> "<referer>" "<ua>"`.
The role is always `-` in v9, the source is `-` on a unix socket, and the size is `-` before v13.
PGRST204 is a 400 here without its body: the 400s and the 404 of a missing table are kept as
lines, for correlation with the clients' logs. Every other request, write (POST, PATCH, PUT,
DELETE) or read (GET, HEAD), is counted, not kept: `tally` folds those lines into one weighted
row per (minute, method, path, status), the denominator of "X of N writes failed", of the write
error rate, and the reads by status class.
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
# Every other request is counted, not kept: nearly every line of an access log is one, so the
# scanner hands all of them to `tally` (split in C) rather than cutting each at a keyword hit.
TALLY_KEYWORDS: tuple[bytes, ...] = (b'] "',)
WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")
READ_METHODS = ("GET", "HEAD")
TALLY_METHODS = (*WRITE_METHODS, *READ_METHODS)
# `[<time>] "` is where the fields a count needs are found by position: the time is the 26
# characters before `] "` (`21/Aug/2026:13:56:52 +0000`), the request line right after it.
REQUEST_START = '] "'
TIME_WIDTH = len("21/Aug/2026:13:56:52 +0000")


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
    """Request lines (reads and writes) folded into weighted rows, and how many request lines could not be read (a
    cut or garbled line, a time that is no time).

    One row per (minute, method, path without its query, status): `weight` lines between `ts`
    (the first second) and `ts_end` (the last), event columns as `access_events` names them.
    Lines of other methods, and lines that are no request line, are not counted.

    The fields are cut by position, without a regex: a regex over every line of a large log
    costs about three times as much, and every field is checked (method, a three-digit
    status, the time) before it counts.
    """
    line = pl.col("line")
    fields = (
        pl.DataFrame({"line": lines})
        .lazy()
        .with_columns(line.str.find(REQUEST_START, literal=True).alias("_at"))
        .filter(pl.col("_at") >= TIME_WIDTH)
        .with_columns(line.str.slice(pl.col("_at") + len(REQUEST_START)).alias("_request"))
        .with_columns(pl.col("_request").str.find(" ", literal=True).alias("_space"))
        .with_columns(
            pl.col("_request").str.slice(0, pl.col("_space")).alias("method"),
            pl.col("_request").str.slice(pl.col("_space") + 1).alias("_target"),
        )
        .filter(pl.col("method").is_in(TALLY_METHODS))
        .select(
            line.str.slice(pl.col("_at") - TIME_WIDTH, 17).alias("minute"),  # 21/Aug/2026:13:56
            line.str.slice(pl.col("_at") - 8, 2).alias("second"),
            line.str.slice(pl.col("_at") - 5, 5).alias("zone"),
            "method",
            pl.col("_target")
            .str.slice(
                0,
                pl.min_horizontal(
                    pl.col("_target").str.find(" ", literal=True), pl.col("_target").str.find("?", literal=True)
                ),
            )
            .alias("path"),
            pl.col("_target")
            .str.slice(pl.col("_target").str.find('" ', literal=True) + 2, 4)
            .alias("_status"),
        )
    )
    # `HTTP/1.1" 201 ` or `201\n`: three digits, then the size or the end of the line.
    status_ok = pl.col("_status").str.contains(r"^\d{3}(?: |$)") & pl.col("path").str.starts_with("/")
    folded = (
        fields.with_columns(pl.col("_status").str.slice(0, 3).alias("status"), status_ok.fill_null(False).alias("_ok"))
        .group_by(["minute", "zone", "method", "path", "status", "_ok"])
        .agg(
            pl.len().alias("weight"),
            pl.col("second").min().alias("first"),
            pl.col("second").max().alias("last"),
        )
        .collect()
    )
    unread = int(folded.filter(~pl.col("_ok"))["weight"].sum())
    rows = (
        folded.lazy()
        .filter(pl.col("_ok"))
        .select(
            at("first").alias("ts"),
            at("last").alias("ts_end"),
            pl.lit(Kind.ACCESS.value).alias("kind"),
            pl.lit("info").alias("level"),
            "method",
            "path",
            pl.col("status").cast(pl.Int32, strict=False),
            pl.col("weight").cast(pl.Int64),
        )
        .collect()
    )
    bad_time = rows.filter(pl.col("ts").is_null() | pl.col("ts_end").is_null())  # 31/Feb, +9999
    if bad_time.height:
        unread += int(bad_time["weight"].sum())
        rows = rows.filter(pl.col("ts").is_not_null() & pl.col("ts_end").is_not_null())
    return rows, unread


def at(second: str) -> pl.Expr:
    """The time of a folded row with the seconds of column `second`, in UTC."""
    text = pl.concat_str(pl.col("minute"), pl.lit(":"), pl.col(second), pl.lit(" "), pl.col("zone"))
    return aware(text, "%d/%b/%Y:%H:%M:%S %z")


def is_access_line(line: str) -> bool:
    return _ACCESS_RE.match(line) is not None


class PostgrestAccessFormat(LogFormat):
    name = "postgrest_access"
    description = "PostgREST access log (stdout), v9-v16"
    keywords = KEYWORDS
    tally_keywords = TALLY_KEYWORDS
    tally_every_line = True
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
