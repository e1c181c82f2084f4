"""Failures whose lines carry no time, placed by their neighbours in the same file.

A supabase-js `.throwOnError()` trace (the source line with a caret, `PostgrestError: ...`, the
stack, `{ details, hint, code }`) or basicConfig's `ERROR:name:message` has no timestamp. In a
file whose timed records are in time order, such a record happened no earlier than the timed
record above it and no later than the one below it. In a file that is not in order (an export
sorted newest first, interleaved writers) its neighbours say nothing, so it stays unplaced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl


@dataclass(frozen=True)
class Placed:
    """Where an untimed failure lies in time: `after` <= its time <= `before` (None: unbounded)."""

    after: datetime | None
    before: datetime | None
    weight: int


def _ordered_sources(timed: pl.DataFrame) -> set[str]:
    """Sources whose timed events, in line order, never go back in time."""
    steps = timed.sort(["source", "line_no"]).with_columns(
        (pl.col("ts").diff().over("source") < pl.duration(microseconds=0)).alias("_back")
    )
    bad = steps.filter(pl.col("_back").fill_null(False))["source"].unique().to_list()
    return set(timed["source"].unique().to_list()) - set(bad)


def place_untimed(rows: pl.DataFrame, events: pl.DataFrame) -> list[Placed | None]:
    """For each untimed row of `rows` (failures, one per request), its bounds from the timed
    events of the same source around its line; None where the source is not in time order or
    has no timed event."""
    untimed = rows.filter(pl.col("ts").is_null())
    if untimed.height == 0:
        return []
    timed = events.filter(pl.col("ts").is_not_null() & pl.col("line_no").is_not_null()).select(
        "source", "line_no", "ts"
    )
    ordered = _ordered_sources(timed) if timed.height else set()
    timed = timed.sort("line_no")  # sorted as a whole, so sorted within each source too
    probe = (
        untimed.select("source", "line_no", pl.col("weight").fill_null(1).alias("_w"))
        .with_row_index("_i")
        .sort("line_no")
    )
    above = probe.join_asof(
        timed.rename({"ts": "_after"}), on="line_no", by="source",
        strategy="backward", allow_exact_matches=False, check_sortedness=False,
    )
    below = probe.join_asof(
        timed.rename({"ts": "_before"}), on="line_no", by="source",
        strategy="forward", allow_exact_matches=False, check_sortedness=False,
    ).select("_i", "_before")
    placed: list[Placed | None] = [None] * untimed.height
    for row in above.join(below, on="_i").iter_rows(named=True):
        if row["source"] in ordered and (row["_after"] or row["_before"]):
            placed[row["_i"]] = Placed(row["_after"], row["_before"], int(row["_w"]))
    return placed
