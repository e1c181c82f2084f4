"""Fallback for text no other format claims: any line that embeds a PostgREST error body.

Takes a leading timestamp when the line has one (ISO-8601, with or without zone), so a bare
`grep PGRST204 app.log > excerpt.txt` or a pasted console still scans.
"""

from __future__ import annotations

import polars as pl

from parsers.base import LogFormat, Sample
from parsers.error_body import error_columns
from parsers.timestamps import iso

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
    )

    def sniff(self, lines: list[str]) -> float:
        return 0.0

    def is_record_start(self, line: str) -> bool:
        return not line[:1].isspace()

    def parse(self, candidates: pl.DataFrame, tz: str = "UTC") -> pl.LazyFrame:
        return candidates.lazy().with_columns(
            *error_columns(pl.col("line")),
            iso(pl.col("head").str.extract(LEADING_TS, 1), tz).alias("ts"),
        )
