"""One event logged in several places is one event.

PostgreSQL with `log_destination = 'stderr,csvlog,jsonlog'` writes every statement and error
three times, with the same millisecond time and the same text; a client that logs PostgreSQL's
error body (a 42703 from PostgREST) logs it again a few milliseconds away. `fold_sources` keeps
one row of each such group and lists, in `seen_in`, every source that logged it.

Rows fold when they say the same thing (kind, code, table, column, detail, message) within
`SAME_EVENT` of each other and come from different sources: one source never holds the same
event twice, so two identical lines of one file stay two events.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

SAME_EVENT = timedelta(seconds=1)
KEY = ("kind", "code", "table", "column", "detail", "message")


def fold_sources(events: pl.DataFrame, tolerance: timedelta = SAME_EVENT) -> pl.DataFrame:
    """`events` with each event seen in several sources kept once (its earliest row), and a
    `seen_in` column: the sources that logged it, in the order they did."""
    if events.height == 0:
        return events.with_columns(pl.lit(None, dtype=pl.List(pl.String)).alias("seen_in"))
    rows = events.with_row_index("_fold_row")
    ordered = rows.filter(pl.col("ts").is_not_null()).sort(
        [*KEY, "ts"], nulls_last=True, maintain_order=True  # ties: the first row read is kept
    )
    keep: dict[int, list[str]] = {}
    group_key: tuple[object, ...] | None = None
    start = None
    head = -1
    for row in ordered.select("_fold_row", "ts", "source", *KEY).iter_rows(named=True):
        key = tuple(row[k] for k in KEY)
        sources = keep.get(head)
        if (
            key == group_key
            and start is not None
            and row["ts"] - start <= tolerance
            and sources is not None
            and row["source"] not in sources
        ):
            sources.append(row["source"])
            continue
        group_key, start, head = key, row["ts"], row["_fold_row"]
        keep[head] = [row["source"]]
    untimed = rows.filter(pl.col("ts").is_null()).select("_fold_row", "source")
    for i, source in untimed.iter_rows():
        keep[i] = [source]  # an untimed line cannot be matched by time: it stays itself
    kept = pl.DataFrame(
        {"_fold_row": list(keep), "seen_in": list(keep.values())},
        schema={"_fold_row": pl.UInt32, "seen_in": pl.List(pl.String)},
    )
    return rows.join(kept, on="_fold_row", how="inner").sort("_fold_row").drop("_fold_row")
