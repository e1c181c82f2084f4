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

`fold()` is the one-shot scan's counterpart: it folds each batch as a file is read, by exact
keys (the exact time included), so the result is the same in any reading order and gives up
nothing: the document equals the one over every line.
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


# -- folding as a one-shot scan reads -------------------------------------------------------
# What `fold()` may merge into one weighted row: rows equal in everything `runbook.incidents`
# reads, with the exact time (and `ts_end`) in the key, so the result never depends on the order
# the batches come in and no time comparison (a load, a window's edge) can fall inside a row.
_LINE_ONLY = ("line_no", "record_no", "raw", "weight")
REQUEST_KEY = [c for c in EVENT_SCHEMA if c not in _LINE_ONLY]
ACCESS_KEY = [c for c in EVENT_SCHEMA if c not in (*_LINE_ONLY, "request_id", "message")]
_ORDER = ["ts", "source", "line_no"]


def fold(
    state: pl.DataFrame, batch: pl.DataFrame, samples: int = SAMPLES_PER_INCIDENT
) -> pl.DataFrame | None:
    """`state` (a folded table, or no rows) with the events of `batch` (lines of one source)
    folded in, so that `group_incidents`, `related_events` and `write_totals` answer exactly as
    over every line, in memory that grows with the distinct times, not with the lines:

    - PGRST204 requests are made one row per request first (`pgrst204_requests`), the first
      `samples` of each (table, column) by time stay lines (they are the incident's samples),
      the others fold by `REQUEST_KEY`; a request with an id stays a line (its id may be logged
      again in a later batch, and counts once).
    - server access lines fold by `ACCESS_KEY` (the access log's time has whole seconds; a
      folded row pairs with as many client lines as it stands for); a client's own HTTP lines
      stay lines: each pairs with one server line (`runbook.incidents.requests`).
    - every other event (DDL, reloads, loads, listener lines, related errors) stays whole.

    None when `batch` holds a PGRST204 request without a time: its neighbours' lines place
    it (`runbook.incidents.untimed`), so its source is to be read without folding.
    """
    from runbook.incidents.requests import CLIENT_ACCESS_FORMATS  # it imports grouping

    wanted = is_pgrst204_request()
    if batch.filter(wanted & pl.col("ts").is_null()).height:
        return None
    both = pl.concat([state, batch], how="vertical").sort(_ORDER, nulls_last=True)
    requests = pgrst204_requests(both)
    # Lines that are a single request each stay lines while they may be samples.
    records = pl.col("weight").is_null() & pl.col("raw").is_not_null()
    rank = pl.int_range(pl.len()).over(["table", "column", records])
    lines = (pl.col("request_id").is_not_null() & pl.col("weight").is_null()) | (records & (rank < samples))
    ranked = requests.with_columns(lines.alias("_line"))
    fold_requests = ranked.filter(~pl.col("_line")).drop("_line")
    access = (
        (pl.col("kind") == Kind.ACCESS.value)
        & pl.col("ts").is_not_null()
        & ~pl.col("format").is_in(list(CLIENT_ACCESS_FORMATS)).fill_null(False)
    )
    parts = [
        both.filter(~wanted & ~access),
        ranked.filter(pl.col("_line")).drop("_line"),
        _folded(fold_requests, REQUEST_KEY),
        _folded(both.filter(access), ACCESS_KEY),
    ]
    return pl.concat([part.select(list(EVENT_SCHEMA)) for part in parts], how="vertical")


def _folded(rows: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    """`rows` merged by `key`: one row stands for the summed weight (a line weighs 1) and
    keeps the first line number; a single line stays as it was."""
    if rows.height == 0:
        return rows
    merged = rows.group_by(key).agg(
        pl.when(pl.len() == 1)
        .then(pl.col("weight").first())
        .otherwise(pl.col("weight").fill_null(1).sum())
        .alias("weight"),
        pl.col("line_no").min(),
        pl.col("record_no").min(),
        pl.when(pl.len() == 1).then(pl.col("raw").first()).otherwise(None).alias("raw"),
    )
    return conform(merged).collect()
