"""Fold old failed requests into per-minute counts, so a long follow or watch stays small.

A live event table (follow, replay, `watch`) grows with every failed request: each keeps its
redacted line. `compact()` keeps every event that is not a PGRST204 request as it is (DDL,
reloads, loads and listener lines are few and read whole), keeps each incident's first
`samples` requests and everything newer than `keep_after` as lines, and replaces the older
requests by weighted rows, one per (source, table, column, endpoint, minute, and stretch between
schema cache loads): `weight` requests
between `ts` and `ts_end`, the same aggregate rows a log store answers with. Access-log lines
older than `keep_after` fold the same way, one row per (endpoint, status, second): the access
log's time has whole seconds, so a folded row keeps its lines' time exactly. `group_incidents`
counts them exactly as the lines they replace: the count, the first and last time, the
per-minute timeline, the endpoints, the access 400s and the sources do not change.

What is given up for rows older than `keep_after`: the text of requests past the samples, and
the de-duplication of a request id logged again after that long (the duplicates a log holds,
a header and its traceback or a client and its server, are seconds apart).
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from runbook.events import EVENT_SCHEMA, Kind, conform
from runbook.incidents.grouping import (
    IN_FLIGHT,
    SAMPLES_PER_INCIDENT,
    is_pgrst204_request,
    pgrst204_requests,
)

GROUP_BY = ["source", "format", "kind", "level", "code", "schema", "table", "column", "method", "path"]
# `code`: a gateway names the error of some requests (23502 ...), which must not read as PGRST204.
ACCESS_BY = ["source", "format", "kind", "level", "code", "method", "path", "status", "ts"]


def compact(
    events: pl.DataFrame, keep_after: datetime, samples: int = SAMPLES_PER_INCIDENT
) -> pl.DataFrame:
    """`events` with the PGRST204 requests before `keep_after` folded into per-minute rows."""
    wanted = is_pgrst204_request()
    access = (pl.col("kind") == Kind.ACCESS.value) & pl.col("ts").is_not_null() & (
        pl.col("ts") < keep_after
    )
    requests = pgrst204_requests(events)  # one row per request, duplicates dropped
    first = pl.int_range(pl.len()).over(["table", "column"]) < samples
    kept = pl.col("ts").is_null() | (pl.col("ts") >= keep_after) | first
    ranked = requests.with_columns(kept.alias("_keep"))
    old = ranked.filter(~pl.col("_keep"))
    # A folded row never spans a schema cache load: "errors after the load" stays exact.
    loads = events.filter(pl.col("kind") == Kind.CACHE_LOAD.value)["ts"].drop_nulls()
    bounds = (loads + IN_FLIGHT).sort()
    old = old.with_columns(
        pl.Series("_segment", bounds.search_sorted(old["ts"], side="left"), dtype=pl.Int64)
    )
    folded = (
        old.group_by([*GROUP_BY, "_segment", pl.col("ts").dt.truncate("1m").alias("_minute")])
        .agg(
            pl.col("ts").min(),
            pl.max_horizontal("ts", "ts_end").max().alias("ts_end"),
            pl.col("weight").fill_null(1).sum().alias("weight"),
            pl.col("line_no").min(),
            pl.col("record_no").min(),
        )
        .drop("_minute", "_segment")
    )
    old_access = events.filter(access)
    folded_access = old_access.group_by(ACCESS_BY).agg(
        pl.col("ts_end").max(),
        pl.col("weight").fill_null(1).sum().alias("weight"),
        pl.col("line_no").min(),
        pl.col("record_no").min(),
    )
    if old.height == 0 and folded_access.height == old_access.height:
        return events  # nothing to fold
    parts = [
        events.filter(~wanted & ~access),
        ranked.filter(pl.col("_keep")).drop("_keep"),
        conform(folded).collect(),
        conform(folded_access).collect(),
    ]
    return pl.concat(
        [part.select(list(EVENT_SCHEMA)) for part in parts], how="vertical"
    ).sort(["ts", "source", "line_no"], nulls_last=True)
