"""One request seen in several logs: pair records of the same request by time.

A failed write can be logged three times: the client's error record (postgrest-py's `APIError`,
supabase-js' error object), the client's own HTTP line (httpx logs `HTTP Request: POST
http://host/rest/v1/members "HTTP/1.1 400 Bad Request"` through Python logging for postgrest-py
and supabase-py), and PostgREST's access line (`"POST /members HTTP/1.1" 400 ...`) or the
gateway's. They name the same table and lie within a second or two of each other: the access
line has whole seconds and is written when the response leaves, the client logs when it arrives.

- `fold_client_access(access)`: the client's HTTP lines that have their server access line
  drop out, so a request counts once; a client line with no server line (the access log was not
  read) stays.
- `endpoints_of_failures(failures, access)`: the endpoint of each client failure that logs none,
  from the access line of the same table at the same time.

Pairs are one-to-one: each record pairs with at most one of the other side.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from datetime import datetime, timedelta

import polars as pl

from runbook.incidents.grouping import endpoint, table_of_path

# A client's record and the server's line of one request: whole seconds on the server side,
# network and logging latency on the client's, a little clock skew between hosts.
SAME_REQUEST = timedelta(seconds=2)
# Formats whose `access` events are a client's own log of its requests (httpx through Python
# logging); every other format's access events are the server's or the gateway's.
CLIENT_ACCESS_FORMATS = frozenset({"python_logging"})


def pair_by_time(
    left: Sequence[datetime | None],
    right: Sequence[datetime | None],
    tolerance: timedelta = SAME_REQUEST,
) -> dict[int, int]:
    """One-to-one pairs `{i: j}` with `|left[i] - right[j]| <= tolerance`, the closest first
    (ties: the earlier). Untimed records never pair."""
    rights = sorted((t, j) for j, t in enumerate(right) if t is not None)
    times = [t for t, _ in rights]
    candidates: list[tuple[timedelta, datetime, int, int]] = []
    for i, ts in enumerate(left):
        if ts is None:
            continue
        lo, hi = bisect_left(times, ts - tolerance), bisect_right(times, ts + tolerance)
        candidates += [(abs(times[k] - ts), ts, i, rights[k][1]) for k in range(lo, hi)]
    pairs: dict[int, int] = {}
    taken: set[int] = set()
    for _, _, i, j in sorted(candidates):
        if i not in pairs and j not in taken:
            pairs[i] = j
            taken.add(j)
    return pairs


def _with_table(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.col("path").map_elements(table_of_path, return_dtype=pl.String).alias("_req_table")
    )


def fold_client_access(access: pl.DataFrame) -> pl.DataFrame:
    """`access` (access events) without the client HTTP lines whose request the server's or
    gateway's access log also shows (same method, table and status, within `SAME_REQUEST`)."""
    if access.height == 0:
        return access
    marked = _with_table(access).with_row_index("_req_row")
    client = marked.filter(pl.col("format").is_in(list(CLIENT_ACCESS_FORMATS)))
    server = marked.filter(~pl.col("format").is_in(list(CLIENT_ACCESS_FORMATS)))
    if client.height == 0 or server.height == 0:
        return access
    keys = ["method", "_req_table", "status"]
    dropped: set[int] = set()
    for key, rows in client.group_by(keys, maintain_order=True):
        if any(k is None for k in key):
            continue
        other = server.filter(
            (pl.col("method") == key[0]) & (pl.col("_req_table") == key[1]) & (pl.col("status") == key[2])
        )
        # a folded server row (`runbook.incidents.compaction`) is `weight` lines of one time
        times = other.select(pl.col("ts").repeat_by(pl.col("weight").fill_null(1)).explode())
        pairs = pair_by_time(rows["ts"].to_list(), times["ts"].to_list())
        ids = rows["_req_row"].to_list()
        dropped.update(ids[i] for i in pairs)
    if not dropped:
        return access
    return (
        marked.filter(~pl.col("_req_row").is_in(sorted(dropped)))
        .drop("_req_row", "_req_table")
    )


def endpoints_of_failures(failures: pl.DataFrame, access: pl.DataFrame) -> list[str | None]:
    """The endpoint of each row of `failures` (client PGRST204 records, one per request): its
    own method and path when it logs them, else those of the access 400 write to its table at
    the same time (`SAME_REQUEST`), else None."""
    own = [
        endpoint(m, p)
        for m, p in zip(failures["method"].to_list(), failures["path"].to_list(), strict=True)
    ]
    writes = _with_table(access)
    tables = failures["table"].to_list()
    times = failures["ts"].to_list()
    for table in {t for t, e in zip(tables, own, strict=True) if e is None and t is not None}:
        wanted = [i for i, t in enumerate(tables) if t == table and own[i] is None]
        candidates = writes.filter(pl.col("_req_table") == table).sort("ts", nulls_last=True)
        names = [
            endpoint(m, p)
            for m, p in zip(candidates["method"].to_list(), candidates["path"].to_list(), strict=True)
        ]
        pairs = pair_by_time([times[i] for i in wanted], candidates["ts"].to_list())
        for n, j in pairs.items():
            own[wanted[n]] = names[j]
    return own
