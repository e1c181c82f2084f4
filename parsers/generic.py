"""Fallback for text no other format claims: any line that embeds a PostgREST error body.

Takes a leading timestamp when the line has one (ISO-8601, with or without zone), so a bare
`grep PGRST204 app.log > excerpt.txt` or a pasted console still scans.
"""

from __future__ import annotations

import polars as pl

from parsers.base import LogFormat, Sample
from parsers.error_body import error_columns
from parsers.line_prefixes import prefix_time, strip, strip_expr
from parsers.timestamps import iso

# An error body as a Go, Ruby or Java service logs it after a failed write.
BODY = ('{"code":"PGRST204","details":null,"hint":null,'
        '"message":"Could not find the \'tg\' column of \'members\' in the schema cache"}')

LEADING_TS = r"^\W{0,3}(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2}| UTC)?)"


class GenericFormat(LogFormat):
    name = "generic"
    description = "any text with PostgREST error bodies (fallback)"
    samples = (
        Sample(
            ("2026-11-18T09:15:01Z error {\"code\":\"PGRST204\",\"details\":null,\"hint\":null,"
             "\"message\":\"Could not find the 'adminname' column of 'mypoolr' in the schema cache\"}",),
            {"code": "PGRST204", "table": "mypoolr", "column": "adminname"},
        ),
        Sample(("Error: Column 'doseLogs' of relation 'patients' does not exist",),
               {"code": "PGRST204", "table": "patients", "column": "doseLogs"}),
        # The prefixes of `parsers.line_prefixes`, each carrying the time of the line.
        Sample((f"2026/11/22 10:20:05 insert member: {BODY}",),  # Go `log.LstdFlags`
               {"table": "members", "column": "tg", "ts": "2026-11-22 10:20:05+00:00"}),
        Sample((f"2026/11/22 10:20:05.123456 repo.go:88: {BODY}",),  # `Lmicroseconds|Lshortfile`
               {"table": "members", "column": "tg", "ts": "2026-11-22 10:20:05.123456+00:00"}),
        Sample((f"<163>1 2026-11-22T10:20:05.123+01:00 web-1 api 4242 DB - {BODY}",),  # RFC 5424
               {"table": "members", "ts": "2026-11-22 09:20:05.123000+00:00"}),
        Sample((f'<163>1 2026-11-22T10:20:05Z web-1 api - - [meta x="a\\]b"] {BODY}',),
               {"table": "members", "ts": "2026-11-22 10:20:05+00:00"}),
        Sample((f"2026-11-22T10:20:05+0100 web-1 api[4242]: {BODY}",),  # journald short-iso
               {"table": "members", "ts": "2026-11-22 09:20:05+00:00"}),
        Sample((f"2026-11-22T10:20:05.123456+01:00 web-1 api[4242]: {BODY}",),  # short-iso-precise
               {"table": "members", "ts": "2026-11-22 09:20:05.123456+00:00"}),
        # RFC 3164 / journald `short`: no year in the line (see the time test of line_prefixes)
        Sample((f"Nov 22 10:20:05 web-1 api[4242]: {BODY}",), {"table": "members", "column": "tg"}),
        Sample((f"E, [2026-11-22T10:20:05.123456 #4242] ERROR -- : {BODY}",),  # Rails Logger
               {"table": "members", "ts": "2026-11-22 10:20:05.123456+00:00"}),
        Sample((f"2026-11-22 10:20:05,123 ERROR [main] c.e.MemberRepo - {BODY}",  # logback
                "\tat com.example.MemberRepo.insert(MemberRepo.java:42)"),
               {"table": "members", "record_no": 1, "ts": "2026-11-22 10:20:05.123000+00:00"}),
        Sample((f"2026-11-22T10:20:05.123456789Z stderr F {BODY}",),  # Kubernetes CRI
               {"table": "members", "ts": "2026-11-22 10:20:05.123456+00:00"}),
        Sample((f"api-1  | 2026-11-22T10:20:05.123456789Z {BODY}",),  # `docker compose logs -t`
               {"table": "members", "ts": "2026-11-22 10:20:05.123456+00:00"}),
    )

    def sniff(self, lines: list[str]) -> float:
        return 0.0

    def is_record_start(self, line: str) -> bool:
        return not strip(line)[:1].isspace()

    def parse(self, candidates: pl.DataFrame, tz: str = "UTC") -> pl.LazyFrame:
        return candidates.lazy().with_columns(
            *error_columns(pl.col("line")),
            pl.coalesce(
                iso(pl.col("head").str.extract(LEADING_TS, 1), tz),
                prefix_time(pl.col("head"), tz),
                iso(strip_expr(pl.col("head")).str.extract(LEADING_TS, 1), tz),
            ).alias("ts"),
        )
