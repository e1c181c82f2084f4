"""Group PGRST204 events into incidents and attach what happened around them.

An incident is every failed write of one (table, column) in the scanned logs: how many distinct
requests, when, through which endpoints and sources, with the migrations that touched the
table, the cache reloads and loads around it, and whether the errors stopped after a load.
The `to_dict()` shapes are the `scan --format json` contract; keep the names stable.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

import polars as pl

from runbook.events import PGRST204, RELATED_DB_CODES, SCHEMA_CACHE_FAMILY, Kind
from runbook.incidents.same_event import fold_sources
from runbook.incidents.untimed import place_untimed

SAMPLES_PER_INCIDENT = 5
MAX_TIMELINE_MINUTES = 7 * 24 * 60
ACCESS_SLACK = timedelta(seconds=60)  # access lines lag or lead the client's own log a little
CONTEXT_BEFORE = timedelta(hours=24)  # how far back a migration can be "the" migration
RELOAD_WINDOW = timedelta(hours=1)
IN_FLIGHT = timedelta(seconds=1)  # requests already planned when a load finished
WRITE_METHODS = ("POST", "PATCH", "PUT")


def iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts is not None else None


@dataclass
class Incident:
    """Every failed write of one (table, column): the unit the runbook works on."""

    id: str
    code: str
    schema: str | None
    table: str
    column: str
    count: int
    first_seen: datetime | None
    last_seen: datetime | None
    endpoints: list[str]
    sources: list[str]
    per_minute: list[dict[str, Any]]
    samples: list[dict[str, Any]]
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_seconds(self) -> float | None:
        if self.first_seen is None or self.last_seen is None:
            return None
        return (self.last_seen - self.first_seen).total_seconds()

    @property
    def peak_per_minute(self) -> int:
        return max((point["count"] for point in self.per_minute), default=0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "code": self.code,
            "schema": self.schema,
            "table": self.table,
            "column": self.column,
            "count": self.count,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "duration_seconds": self.duration_seconds,
            "peak_per_minute": self.peak_per_minute,
            "endpoints": self.endpoints,
            "sources": self.sources,
            "per_minute": self.per_minute,
            "samples": self.samples,
            "context": self.context,
        }


@dataclass
class Related:
    """Schema-cache family errors and PostgreSQL 42703/42P01: evidence, never PGRST204."""

    code: str
    schema: str | None
    table: str | None
    column: str | None
    count: int
    first_seen: datetime | None
    last_seen: datetime | None
    message: str | None
    sources: list[str] = field(default_factory=list)  # every source that logged one of them

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "schema": self.schema,
            "table": self.table,
            "column": self.column,
            "count": self.count,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "message": self.message,
            "sources": self.sources,
        }


def is_pgrst204_request() -> pl.Expr:
    """The events that are PGRST204 failures naming a table and a column."""
    return (
        (pl.col("kind") == Kind.SCHEMA_CACHE_ERROR.value)
        & (pl.col("code") == PGRST204)
        & pl.col("table").is_not_null()
        & pl.col("column").is_not_null()
    )


def pgrst204_requests(events: pl.DataFrame) -> pl.DataFrame:
    """PGRST204 events that name a table and column, one row per failed request.

    The same request logged twice (a header line and its traceback, or the same request id in
    several records) counts once.
    """
    errors = events.filter(is_pgrst204_request())
    aggregated = errors.filter(pl.col("weight").is_not_null())
    records = errors.filter(pl.col("weight").is_null())
    with_id = records.filter(pl.col("request_id").is_not_null()).unique(
        ["request_id", "table", "column"], keep="first", maintain_order=True
    )
    without_id = records.filter(pl.col("request_id").is_null()).unique(
        ["source", "record_no", "table", "column"], keep="first", maintain_order=True
    )
    return pl.concat([with_id, without_id, aggregated]).sort(
        ["ts", "source", "line_no"], nulls_last=True
    )


def _weights(rows: pl.DataFrame) -> pl.Expr:
    return pl.col("weight").fill_null(1)


def group_incidents(events: pl.DataFrame) -> list[Incident]:
    """Incidents from an event table, most failed requests first."""
    requests = pgrst204_requests(events)
    if requests.height == 0:
        return []
    access = _failed_writes(events)
    from runbook.incidents.writes import success_logged, write_requests  # it imports this module

    writes = write_requests(events)
    logged = success_logged(writes)
    incidents: list[Incident] = []
    for (table, column), rows in requests.group_by(["table", "column"], maintain_order=True):
        incident = _incident(str(table), str(column), rows, events, access)
        incident.context["writes"] = _writes_in_window(incident, writes, logged)
        incidents.append(incident)
    incidents.sort(key=lambda inc: (-inc.count, inc.table, inc.column))
    return incidents


def related_events(events: pl.DataFrame) -> list[Related]:
    """The schema-cache family (PGRST200-205 but 204) and 42703/42P01, grouped by what they name."""
    rel = events.filter(
        pl.col("code").is_in([*SCHEMA_CACHE_FAMILY, *RELATED_DB_CODES])
        | ((pl.col("code") == PGRST204) & pl.col("column").is_null() & pl.col("table").is_not_null())
    )
    if rel.height == 0:
        return []
    grouped = (
        fold_sources(rel)  # one error in stderr, csvlog and jsonlog (or client and server) is one
        .group_by(["code", "schema", "table", "column"], maintain_order=True)
        .agg(
            pl.len().alias("count"),
            pl.col("ts").min().alias("first_seen"),
            pl.col("ts").max().alias("last_seen"),
            pl.col("message").drop_nulls().first().alias("message"),
            pl.col("seen_in").explode().drop_nulls().unique().sort().alias("sources"),
        )
        .sort(["count", "code"], descending=[True, False])
    )
    return [Related(**row) for row in grouped.to_dicts()]


def write_totals(events: pl.DataFrame) -> dict[str, Any]:
    """Every table's write requests by status class (`runbook.incidents.writes.per_table`)."""
    from runbook.incidents.writes import per_table  # it imports this module

    return per_table(events)


def read_totals(events: pl.DataFrame) -> dict[str, Any]:
    """Every table's read requests by status class (`runbook.incidents.writes.reads_per_table`)."""
    from runbook.incidents.writes import reads_per_table  # it imports this module

    return reads_per_table(events)


def table_of_path(path: str | None) -> str | None:
    """`/rest/v1/my%20table?x=1` -> `my table`; the table a PostgREST request path names."""
    if not path:
        return None
    bare = path.split("?", 1)[0]
    if bare.startswith("http://") or bare.startswith("https://"):
        bare = "/" + bare.split("/", 3)[-1] if bare.count("/") >= 3 else "/"
    if bare.startswith("/rest/v1/"):
        bare = bare[len("/rest/v1") :]
    parts = [p for p in bare.split("/") if p]
    if not parts or parts[0] == "rpc":
        return None
    return unquote(parts[0])


def endpoint(method: str | None, path: str | None) -> str | None:
    if not method or not path:
        return None
    bare = path.split("?", 1)[0]
    if "://" in bare:
        bare = "/" + bare.split("/", 3)[-1]
    return f"{method} {unquote(bare)}"


# -- internals -----------------------------------------------------------------------------


def _failed_writes(events: pl.DataFrame) -> pl.DataFrame:
    # requests.py uses table_of_path and endpoint from here: imported here, not at the top.
    from runbook.incidents.requests import fold_client_access

    access = fold_client_access(
        events.filter(
            (pl.col("kind") == Kind.ACCESS.value)
            & pl.col("method").is_in(list(WRITE_METHODS))
            & (pl.col("status") == 400)
            & pl.col("code").is_null()  # a gateway 400 it names as another error (23502 ...)
        )
    )
    return access.with_columns(
        pl.col("path").map_elements(table_of_path, return_dtype=pl.String).alias("_table")
    )


def _writes_in_window(incident: Incident, writes: pl.DataFrame, logged: bool) -> dict[str, Any]:
    """The writes to the incident's table while it lasted (with the access log's slack), by
    status class (`runbook.incidents.writes`)."""
    from runbook.incidents.writes import counts

    first, last = incident.first_seen, incident.last_seen
    since = first - ACCESS_SLACK if first is not None else None
    until = last + ACCESS_SLACK if last is not None else None
    return counts(writes, incident.table, since, until, success_lines_logged=logged).to_dict()


def _incident_id(table: str, column: str, first: datetime | None) -> str:
    digest = hashlib.sha1(f"{table}\x00{column}\x00{iso(first)}".encode()).hexdigest()[:8]
    day = first.strftime("%Y%m%d") if first else "undated"
    return f"PGRST204-{day}-{digest}"


def _incident(
    table: str, column: str, rows: pl.DataFrame, events: pl.DataFrame, access: pl.DataFrame
) -> Incident:
    first, last = _time_span(rows)
    count = int(rows.select(_weights(rows).sum()).item())
    schemas = rows["schema"].drop_nulls().unique().to_list()
    own = [  # a folded row (runbook.incidents.compaction) stands for `weight` requests
        (endpoint(m, p), w or 1)
        for m, p, w in zip(
            rows["method"].to_list(), rows["path"].to_list(), rows["weight"].to_list(), strict=True
        )
    ]
    matched_access = access.filter(pl.col("_table") == table)
    if first is not None and last is not None:
        matched_access = matched_access.filter(
            pl.col("ts").is_between(first - ACCESS_SLACK, last + ACCESS_SLACK)
        )
    correlated = [
        (endpoint(m, p), w or 1)
        for m, p, w in zip(
            matched_access["method"].to_list(),
            matched_access["path"].to_list(),
            matched_access["weight"].to_list(),
            strict=True,
        )
    ]
    endpoints = _by_frequency([(e, w) for e, w in own + correlated if e])
    samples = [
        {"ts": iso(r["ts"]), "source": r["source"], "line_no": r["line_no"], "raw": r["raw"]}
        # Lines, not a store's aggregate rows (which carry no text).
        for r in rows.filter(pl.col("raw").is_not_null()).head(SAMPLES_PER_INCIDENT).iter_rows(named=True)
    ]
    return Incident(
        id=_incident_id(table, column, first),
        code=PGRST204,
        schema=schemas[0] if len(schemas) == 1 else None,
        table=table,
        column=column,
        count=count,
        first_seen=first,
        last_seen=last,
        endpoints=endpoints,
        sources=sorted(set(rows["source"].to_list())),
        per_minute=_per_minute(rows),
        samples=samples,
        context=_context(
            table, column, rows, events, int(matched_access["weight"].fill_null(1).sum())
        ),
    )


def _as_time(value: object) -> datetime | None:
    """A polars aggregate of a time column, typed (polars types it as any literal)."""
    return value if isinstance(value, datetime) else None


def _time_span(rows: pl.DataFrame) -> tuple[datetime | None, datetime | None]:
    """The first and last time of the rows; a folded row lasts until its `ts_end`."""
    first = _as_time(rows["ts"].min())
    last = _as_time(rows.select(pl.max_horizontal("ts", "ts_end").max()).item())
    return first, last


def _by_frequency(items: list[tuple[str, int]]) -> list[str]:
    counts: dict[str, int] = {}
    for item, weight in items:
        counts[item] = counts.get(item, 0) + weight
    return sorted(counts, key=lambda k: (-counts[k], k))


def _per_minute(rows: pl.DataFrame) -> list[dict[str, Any]]:
    timed = rows.filter(pl.col("ts").is_not_null())
    if timed.height == 0:
        return []
    counts = timed.group_by(pl.col("ts").dt.truncate("1m").alias("minute")).agg(
        _weights(timed).sum().alias("count")
    )
    start, end = _as_time(counts["minute"].min()), _as_time(counts["minute"].max())
    if start is None or end is None:
        return []
    span = int((end - start).total_seconds() // 60) + 1
    if span <= MAX_TIMELINE_MINUTES:
        grid = pl.DataFrame(
            {"minute": pl.datetime_range(start, end, "1m", eager=True, time_zone="UTC")}
        ).with_columns(pl.col("minute").cast(counts.schema["minute"]))
        counts = grid.join(counts, on="minute", how="left").with_columns(pl.col("count").fill_null(0))
    counts = counts.sort("minute")
    return [{"minute": iso(m), "count": int(c)} for m, c in counts.iter_rows()]


def _event_ref(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "ts": iso(row["ts"]),
        "kind": row["kind"],
        "level": row["level"],  # a migration at level "error" failed and did not apply
        "detail": row["detail"],
        "schema": row["schema"],
        "table": row["table"],
        "column": row["column"],
        "message": row["message"],
        "source": row["source"],
        "line_no": row["line_no"],
        "seen_in": row.get("seen_in") or [row["source"]],  # every source that logged it
    }


def _same_name(expr: pl.Expr, name: str) -> pl.Expr:
    # PostgreSQL folds unquoted names; a log's DDL may say MyPoolr for mypoolr.
    return expr.str.to_lowercase() == name.lower()


def _count_after(rows: pl.DataFrame, moment: datetime) -> int:
    """Requests after `moment` (an aggregated row counts wholly if it ends after it)."""
    later = rows.filter(pl.max_horizontal("ts", "ts_end") > moment)
    return int(later.select(_weights(later).sum()).item() or 0)


def _untimed_after(rows: pl.DataFrame, events: pl.DataFrame, moment: datetime) -> tuple[int, int]:
    """Untimed failures that their neighbours place after `moment`, and those they cannot
    place either side of it (`runbook.incidents.untimed`)."""
    after = unplaced = 0
    for spot in place_untimed(rows, events):
        if spot is not None and spot.after is not None and spot.after > moment:
            after += spot.weight
        elif spot is None or spot.before is None or spot.before > moment:
            unplaced += spot.weight if spot is not None else 1
    return after, unplaced


def _context(
    table: str, column: str, rows: pl.DataFrame, events: pl.DataFrame, access_400s: int
) -> dict[str, Any]:
    first, last = _time_span(rows)
    # A statement or line logged in several destinations (stderr, csvlog, jsonlog) is one event.
    migrations = fold_sources(
        events.filter((pl.col("kind") == Kind.MIGRATION.value) & _same_name(pl.col("table"), table))
    )
    reloads = fold_sources(
        events.filter(
            pl.col("kind").is_in(
                [Kind.CACHE_RELOAD.value, Kind.CACHE_LOAD.value, Kind.CACHE_LOAD_FAILED.value, Kind.LISTENER.value]
            )
        )
    )
    renames = [
        _event_ref(r)
        for r in migrations.filter(
            pl.col("detail").str.contains("RENAME COLUMN", literal=True)
            & (pl.col("column").str.to_lowercase() == column.lower())
        ).iter_rows(named=True)
    ]
    context: dict[str, Any] = {
        "migration_before": None,
        "migrations": [],
        "renames": renames,
        "reloads": [],
        "loads_after_first_error": 0,
        "first_load_after_first_error": None,
        "errors_after_load": None,
        "last_load": None,
        "errors_after_last_load": None,
        "untimed_after_last_load": None,
        "untimed_unplaced": None,
        "stopped_after_reload": None,
        "access_400s": access_400s,
        "untimed_errors": int(rows["ts"].null_count()),
    }
    if first is None or last is None:
        return context
    # The latest by time, not by reading order: sources are read one after another.
    before = migrations.filter(pl.col("ts") <= first).sort("ts", maintain_order=True).tail(1)
    if before.height:
        context["migration_before"] = _event_ref(before.row(0, named=True))
    context["migrations"] = [
        _event_ref(r)
        for r in migrations.filter(pl.col("ts").is_between(first - CONTEXT_BEFORE, last)).iter_rows(named=True)
    ]
    context["reloads"] = [
        _event_ref(r)
        for r in reloads.filter(
            pl.col("ts").is_between(first - RELOAD_WINDOW, last + RELOAD_WINDOW)
        ).iter_rows(named=True)
    ]
    loads = reloads.filter(
        (pl.col("kind") == Kind.CACHE_LOAD.value)
        & (pl.col("ts") > first)
        & (pl.col("ts") <= last + RELOAD_WINDOW)
    )
    context["loads_after_first_error"] = loads.height
    if loads.height:
        load_ts = loads["ts"][0]
        context["first_load_after_first_error"] = _event_ref(loads.row(0, named=True))
        after = _count_after(rows, load_ts + IN_FLIGHT)
        context["errors_after_load"] = after
        last_load_ts = loads["ts"][-1]
        context["last_load"] = _event_ref(loads.row(loads.height - 1, named=True))
        after_last = _count_after(rows, last_load_ts + IN_FLIGHT)
        placed, unplaced = _untimed_after(rows, events, last_load_ts + IN_FLIGHT)
        context["errors_after_last_load"] = after_last + placed
        context["untimed_after_last_load"] = placed
        context["untimed_unplaced"] = unplaced
        context["stopped_after_reload"] = after_last + placed == 0
    return context
