"""Requests by status class: writes, the denominator of "X of N writes failed", and reads.

Counted from the server's side only: PostgREST's access lines and the gateway's (Supabase
`edge_logs`), where every request is one line (or one weighted row, see
`parsers.postgrest_access.tally_access`). A client's own HTTP line (httpx through Python logging)
is the same request again, so it never counts here. Writes are POST, PATCH, PUT and DELETE (the
first three carry the payload PostgREST checks against its schema cache); reads are GET and HEAD,
counted by table and status class only.

A log written at `log-level=warn` or `error` holds only the failed requests: then the share
that failed is not known, and `success_lines_logged` says so instead of a 100% that is not one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from parsers.postgrest_access import READ_METHODS, WRITE_METHODS
from runbook.events import Kind
from runbook.incidents.grouping import table_of_path
from runbook.incidents.requests import CLIENT_ACCESS_FORMATS

STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")
FAILED_STATUS = 400  # PGRST204 answers 400


@dataclass(frozen=True)
class WriteCounts:
    """Write requests to one table (in one window), by status class."""

    by_class: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUS_CLASSES, 0))
    status_400: int = 0
    success_lines_logged: bool = False  # the inputs hold a write that did not fail

    @property
    def requests(self) -> int:
        return sum(self.by_class.values())

    @property
    def share_400(self) -> float | None:
        """The share of writes answered 400, or None when it is not known (no write, or a log
        that keeps only failures)."""
        if not self.requests or not self.success_lines_logged:
            return None
        return self.status_400 / self.requests

    def to_dict(self) -> dict[str, Any]:
        share = self.share_400
        return {
            "requests": self.requests,
            **self.by_class,
            "status_400": self.status_400,
            "share_400": round(share, 4) if share is not None else None,
            "success_lines_logged": self.success_lines_logged,
        }


def write_requests(events: pl.DataFrame, methods: tuple[str, ...] = WRITE_METHODS) -> pl.DataFrame:
    """The server-side requests of `events` made with `methods` (the writes unless told), one
    row per line or weighted row, with `_table` (the table the path names), `_class` (`2xx`
    ...) and `_weight` (1 for a line)."""
    server_line = (pl.col("kind") == Kind.ACCESS.value) & ~pl.col("format").is_in(
        list(CLIENT_ACCESS_FORMATS)
    ).fill_null(False)
    # A gateway line whose proxy status named the schema cache error is read as that error
    # (`parsers.supabase_export`), and is still one write request.
    gateway_error = (pl.col("kind") == Kind.SCHEMA_CACHE_ERROR.value) & (pl.col("detail") == "edge_logs")
    rows = events.filter(
        (server_line | gateway_error)
        & pl.col("status").is_not_null()
        & pl.col("method").is_in(list(methods))
    ).select("ts", "ts_end", "method", "path", "status", "weight")
    tables = {path: table_of_path(path) for path in rows["path"].unique().to_list()}
    return rows.with_columns(
        pl.col("path").replace_strict(tables, default=None, return_dtype=pl.String).alias("_table"),
        pl.concat_str((pl.col("status") // 100).cast(pl.String), pl.lit("xx")).alias("_class"),
        pl.col("weight").fill_null(1).alias("_weight"),
    ).filter(pl.col("_class").is_in(STATUS_CLASSES))


def success_logged(writes: pl.DataFrame) -> bool:
    """Whether `writes` (from `write_requests`) hold a write that did not fail."""
    return bool(writes.filter(pl.col("status") < FAILED_STATUS).height)


def counts(
    writes: pl.DataFrame,
    table: str,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    success_lines_logged: bool,
) -> WriteCounts:
    """Writes to `table` between `since` and `until` (a folded row counts when the span it
    stands for touches the window)."""
    rows = writes.filter(pl.col("_table") == table)
    if since is not None:
        rows = rows.filter(pl.max_horizontal("ts", "ts_end") >= since)
    if until is not None:
        rows = rows.filter(pl.col("ts") <= until)
    by_class = dict.fromkeys(STATUS_CLASSES, 0)
    for klass, n in rows.group_by("_class").agg(pl.col("_weight").sum()).iter_rows():
        if klass in by_class:
            by_class[klass] = int(n)
    failed = int(rows.filter(pl.col("status") == FAILED_STATUS)["_weight"].sum())
    return WriteCounts(by_class, failed, success_lines_logged)


def per_table(events: pl.DataFrame) -> dict[str, Any]:
    """The `writes` object of `scan --format json`: every table's writes by status class and by
    method, and whether the logs hold success lines at all."""
    writes = write_requests(events).filter(pl.col("_table").is_not_null())
    logged = success_logged(writes)
    tables = []
    for table in sorted(writes["_table"].unique().to_list()):
        tables.append(
            {
                "table": table,
                **counts(writes, table, success_lines_logged=logged).to_dict(),
                "by_method": _by_method(writes.filter(pl.col("_table") == table)),
            }
        )
    return {"success_lines_logged": logged, "tables": tables}


def reads_per_table(events: pl.DataFrame) -> dict[str, Any]:
    """The `reads` object of `scan --format json`: every table's reads (GET, HEAD) by status
    class and by method, counted as writes are, and whether any read did not fail (a log of
    failures only holds no 2xx)."""
    reads = write_requests(events, READ_METHODS).filter(pl.col("_table").is_not_null())
    tables = []
    for table in sorted(reads["_table"].unique().to_list()):
        rows = reads.filter(pl.col("_table") == table)
        by_class = dict.fromkeys(STATUS_CLASSES, 0)
        for klass, n in rows.group_by("_class").agg(pl.col("_weight").sum()).iter_rows():
            by_class[klass] = int(n)
        tables.append(
            {"table": table, "requests": sum(by_class.values()), **by_class, "by_method": _by_method(rows)}
        )
    return {"success_lines_logged": success_logged(reads), "tables": tables}


def _by_method(rows: pl.DataFrame) -> dict[str, dict[str, int]]:
    by_method: dict[str, dict[str, int]] = {}
    for method, klass, n in (
        rows.group_by("method", "_class").agg(pl.col("_weight").sum()).sort("method", "_class").iter_rows()
    ):
        by_method.setdefault(method, dict.fromkeys(STATUS_CLASSES, 0))[klass] = int(n)
    return by_method


def describe(table: str, writes: dict[str, Any] | None) -> str | None:
    """One sentence on the writes to `table` (a `WriteCounts.to_dict()`), the same in the scan,
    the report and `run`; None when the access or gateway log shows no write to it."""
    if not writes or not writes.get("requests"):
        return None
    failed, total = int(writes.get("status_400") or 0), int(writes["requests"])
    if not writes.get("success_lines_logged"):
        return (
            f"{failed} write(s) to '{table}' in the access or gateway log failed with HTTP 400; "
            "success lines not logged (the log level keeps only failures), so the share that "
            "failed is not known"
        )
    return (
        f"{failed} of {total} write(s) to '{table}' in the access or gateway log failed with "
        f"HTTP 400 ({100 * failed / total:.1f}%)"
    )
