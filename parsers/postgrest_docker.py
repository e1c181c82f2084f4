"""PostgREST stdout and stderr interleaved in one file, as `docker logs` (or compose) writes them."""

from __future__ import annotations

import polars as pl

from parsers.base import LogFormat, Sample
from parsers.postgrest_access import KEYWORDS as ACCESS_KEYWORDS
from parsers.postgrest_access import TALLY_KEYWORDS, access_events, is_access_line, tally_access
from parsers.postgrest_stderr import KEYWORDS as STDERR_KEYWORDS
from parsers.postgrest_stderr import is_stderr_line, stderr_events

EVENT_COLUMNS = ("ts", "kind", "detail", "message", "code", "level", "method", "path", "status")


class PostgrestDockerFormat(LogFormat):
    name = "postgrest_docker"
    description = "PostgREST stdout+stderr interleaved (docker logs)"
    keywords = STDERR_KEYWORDS + ACCESS_KEYWORDS
    tally_keywords = TALLY_KEYWORDS
    tally_every_line = True
    includes = ("postgrest_stderr", "postgrest_access")
    samples = (
        Sample(
            ('21/Aug/2026:14:02:05 +0000: Received a schema cache reload message on the "pgrst" channel',
             '172.18.0.5 - anon [21/Aug/2026:14:02:06 +0000] "POST /mypoolr HTTP/1.1" 400 - "" "python-httpx/0.27.0"'),
            {"kind": "access", "path": "/mypoolr", "status": 400},
        ),
    )

    def sniff(self, lines: list[str]) -> float:
        stderr = [line for line in lines if is_stderr_line(line)]
        access = [line for line in lines if is_access_line(line)]
        if not stderr or not access:
            return 0.0
        # Beat the single-stream formats only when both streams are really there.
        return (len(stderr) + len(access)) / max(1, len([x for x in lines if x.strip()])) + 0.01

    def parse(self, candidates: pl.DataFrame, tz: str = "UTC") -> pl.LazyFrame:
        line = pl.col("line")
        stderr = {expr.meta.output_name(): expr for expr in stderr_events(line)}
        access = {expr.meta.output_name(): expr for expr in access_events(line)}
        is_access = access["kind"].is_not_null()
        columns = []
        for name in EVENT_COLUMNS:
            a = access.get(name, pl.lit(None))
            s = stderr.get(name, pl.lit(None))
            columns.append(pl.when(is_access).then(a).otherwise(s).alias(name))
        return candidates.lazy().with_columns(columns)

    def tally(self, lines: pl.Series, tz: str = "UTC") -> tuple[pl.DataFrame, int]:
        return tally_access(lines)
