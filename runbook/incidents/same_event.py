"""One event logged in several places is one event.

PostgreSQL with `log_destination = 'stderr,csvlog,jsonlog'` writes every statement and error
three times, with the same millisecond time and the same text; a client that logs PostgreSQL's
error body (a 42703 from PostgREST) logs it again a few milliseconds away. `fold_sources` keeps
one row of each such group and lists, in `seen_in`, every source that logged it.

Rows fold when they say the same thing (kind, code, table, column, detail, message) within
`SAME_EVENT` of each other and come from different sources: one source never holds the same
event twice, so two identical lines of one file stay two events. Where both rows carry the
backend's pid (csvlog and jsonlog always do, stderr with `%p` in `log_line_prefix`), they fold
only when it is the same: two sessions that hit the same error in the same millisecond are two
events. A row without a pid (a client's line, a stderr prefix without `%p`) folds with either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

SAME_EVENT = timedelta(seconds=1)
KEY = ("kind", "code", "table", "column", "detail", "message")


@dataclass
class _Group:
    """Rows of one event being folded: its first time, the pid it was logged with, its sources."""

    start: datetime
    pid: str | None
    sources: list[str]

    def takes(self, source: str, pid: str | None, ts: datetime, tolerance: timedelta) -> bool:
        return (
            ts - self.start <= tolerance
            and source not in self.sources
            and (pid is None or self.pid is None or pid == self.pid)
        )


def fold_sources(events: pl.DataFrame, tolerance: timedelta = SAME_EVENT) -> pl.DataFrame:
    """`events` with each event seen in several sources kept once (its earliest row), and a
    `seen_in` column: the sources that logged it, in the order they did."""
    if events.height == 0:
        return events.with_columns(pl.lit(None, dtype=pl.List(pl.String)).alias("seen_in"))
    rows = events.with_row_index("_fold_row")
    if "pid" not in rows.columns:
        rows = rows.with_columns(pl.lit(None, dtype=pl.String).alias("pid"))
    ordered = rows.filter(pl.col("ts").is_not_null()).sort(
        [*KEY, "ts"], nulls_last=True, maintain_order=True  # ties: the first row read is kept
    )
    keep: dict[int, list[str]] = {}
    group_key: tuple[object, ...] | None = None
    groups: list[_Group] = []  # the current key's groups still open (within the tolerance)
    for row in ordered.select("_fold_row", "ts", "source", "pid", *KEY).iter_rows(named=True):
        key = tuple(row[k] for k in KEY)
        if key != group_key:
            group_key, groups = key, []
        ts, source, pid = row["ts"], row["source"], row["pid"]
        groups = [g for g in groups if ts - g.start <= tolerance]
        joined = next((g for g in groups if g.takes(source, pid, ts, tolerance)), None)
        if joined is not None:
            joined.sources.append(source)
            joined.pid = joined.pid or pid
            continue
        group = _Group(ts, pid, [source])
        groups.append(group)
        keep[row["_fold_row"]] = group.sources
    untimed = rows.filter(pl.col("ts").is_null()).select("_fold_row", "source")
    for i, source in untimed.iter_rows():
        keep[i] = [source]  # an untimed line cannot be matched by time: it stays itself
    kept = pl.DataFrame(
        {"_fold_row": list(keep), "seen_in": list(keep.values())},
        schema={"_fold_row": pl.UInt32, "seen_in": pl.List(pl.String)},
    )
    folded = rows.join(kept, on="_fold_row", how="inner").sort("_fold_row").drop("_fold_row")
    return folded if "pid" in events.columns else folded.drop("pid")
