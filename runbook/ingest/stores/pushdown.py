"""Run the pushed-down queries window by window and turn their rows into events.

In: a `Store` (Supabase or ClickHouse client), the scan range and settings. Out: the events of
`runbook.events` and a `SourceStats` carrying the store's stats:
- one aggregate row per (table, column, minute) becomes one event with `weight` = its count
  and `[ts, ts_end]` = first and last time seen in that minute;
- sample rows (a few per (table, column)) are parsed by the parsers and kept with weight 0:
  they name the table and column as the parsers read them (escapes undone) and show the
  operator real lines, without counting twice;
- context rows (reloads, loads, listener lines, DDL) are parsed by the parsers and kept as the
  files would give them.
A window that fails is "dark": listed with its reason, never counted as zero.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import polars as pl

from runbook.events import (
    EVENT_COLUMNS,
    PGRST204,
    RELATED_DB_CODES,
    SCHEMA_CACHE_FAMILY,
    TS_TYPE,
    Kind,
    conform,
    empty_events,
)
from runbook.ingest.scanner import SourceStats
from runbook.ingest.stores import Progress, StoreSettings, StoreUnreachable
from runbook.ingest.stores.series import Point, first_rows_range, from_micros, parse_series
from runbook.ingest.stores.sql import (
    COLUMN,
    CONTEXT,
    CONTEXT_LIMIT,
    CONTROL,
    COUNT,
    ERRORS,
    FIRST,
    KIND,
    MESSAGE,
    RELATED,
    TABLE,
    Binder,
    LogTable,
    Range,
    samples_sql,
    window_sql,
)
from runbook.ingest.stores.stats import StoreStats
from runbook.ingest.stores.windows import Window, plan

PAIRS_PER_SAMPLE_QUERY = 40
POINTS = "_points"  # an aggregate row's parsed series
RELATED_CODES = (*SCHEMA_CACHE_FAMILY, *RELATED_DB_CODES)
CONTEXT_KINDS = (
    Kind.CACHE_RELOAD.value,
    Kind.CACHE_LOAD.value,
    Kind.CACHE_LOAD_FAILED.value,
    Kind.LISTENER.value,
    Kind.MIGRATION.value,
    Kind.STARTUP.value,
    Kind.CONFIG_RELOAD.value,
)


class WindowFailed(Exception):
    """A query the store did not answer, after retries. `reason` is one line, no secrets.

    `unreachable` is set when no connection could be made at all (refused, DNS, timeout).
    """

    def __init__(self, reason: str, *, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unreachable = unreachable


class Store(Protocol):
    """One opened store. `query` raises `WindowFailed` or `StoreUnreachable`."""

    name: str  # the `source` of its events: the URL without secrets
    kind: str  # "supabase" | "clickhouse"
    table: LogTable
    row_cap: int | None  # rows a reply holds at most (Supabase: 1000)
    stats: StoreStats

    def __enter__(self) -> Store: ...

    def __exit__(self, *exc: object) -> None: ...

    def prepare(self) -> None:
        """Check access and learn the table (raises StoreUnreachable / StoreInputError)."""
        ...

    def binder(self) -> Binder: ...

    def query(self, sql: str, binder: Binder, window: Window) -> list[dict[str, Any]]: ...

    def parse_rows(self, rows: list[dict[str, Any]]) -> pl.DataFrame:
        """Events of sample/context rows, each with `_row` (its index in `rows`)."""
        ...


@dataclass
class _Collected:
    """Per (table, column) as the SQL cut them: every point, and the window first seen in."""

    points: dict[tuple[str, str], list[Point]] = field(default_factory=dict)
    first_window: dict[tuple[str, str], Window] = field(default_factory=dict)
    first_points: dict[tuple[str, str], list[Point]] = field(default_factory=dict)
    context: list[dict[str, Any]] = field(default_factory=list)


def scan_windows(
    store: Store,
    since: datetime,
    until: datetime,
    settings: StoreSettings,
    progress: Progress | None = None,
) -> tuple[pl.DataFrame, SourceStats]:
    """Events and stats of `store` over `[since, until)`; see the module docstring."""
    stats = store.stats
    stats.since, stats.until = since, until
    collected = _Collected()
    stopped = False
    queue = deque(plan(since, until))
    total, done = len(queue), 0
    while queue:
        window = queue.popleft()
        if progress:
            progress(done, total, f"{store.name}: window {done + 1}/{total} {window.label()}")
        try:
            rows = _window_rows(store, window, since, until, settings, stats)
        except StoreUnreachable as exc:
            if stats.windows_answered == 0:
                raise
            # The store stopped answering: what was read stands, the rest is unknown.
            for left in (window, *queue):
                stats.dark_windows.append({**left.to_dict(), "reason": exc.message})
            done += 1 + len(queue)
            queue.clear()
            stopped = True
            break
        if rows is None:
            done += 1
            continue
        if store.row_cap is not None and len(rows) >= store.row_cap:
            halves = window.split()
            if halves is not None:
                queue.extendleft(reversed(halves))
                total += 1
                stats.windows_split += 1
                continue
            stats.capped_windows.append(
                {
                    **window.to_dict(),
                    "reason": f"{store.row_cap} rows in one minute: counts are a lower bound",
                }
            )
        _collect(rows, window, collected, stats)
        done += 1
    stats.windows = done
    if stats.windows_answered == 0 and stats.dark_windows:
        first = stats.dark_windows[0]["reason"]
        raise StoreUnreachable(
            f"{store.name} answered no window of {done}: {first}",
            next_step="check that the store is up and the range is right, then scan again",
        )
    if progress:
        progress(done, total, f"{store.name}: {done} window(s) read")
    samples = [] if stopped else _samples(store, collected, since, until, settings, stats)
    events = _events(store, collected, samples)
    source_stats = SourceStats(source=store.name, format=store.kind)
    source_stats.bytes_read = stats.bytes_moved
    source_stats.lines_read = stats.rows_in_range
    source_stats.candidate_lines = stats.error_rows
    source_stats.events = events.height
    source_stats.store = stats.to_dict()
    return events, source_stats


def _window_rows(
    store: Store,
    window: Window,
    since: datetime,
    until: datetime,
    settings: StoreSettings,
    stats: StoreStats,
) -> list[dict[str, Any]] | None:
    """The rows of one window's aggregate query, or None when the window stays dark."""
    start, end = window.clip(since, until)
    binder = store.binder()
    sql = window_sql(store.table, binder, Range(start, end, settings.sources))
    try:
        rows = store.query(sql, binder, window)
    except WindowFailed as exc:
        if exc.unreachable:
            raise StoreUnreachable(
                f"{store.name}: {exc.reason}",
                next_step="check the URL, the network and that the store is up",
            ) from None
        stats.dark_windows.append({**window.to_dict(), "reason": exc.reason})
        return None
    controls = [row for row in rows if row.get(KIND) == CONTROL]
    if len(controls) != 1 and not (store.row_cap and len(rows) >= store.row_cap):
        stats.dark_windows.append(
            {**window.to_dict(), "reason": "the reply had no control row: the store did not answer"}
        )
        return None
    try:
        for row in rows:
            if row.get(KIND) == ERRORS:
                row[POINTS] = parse_series(str(row[MESSAGE]))
    except (ValueError, TypeError):
        stats.dark_windows.append(
            {**window.to_dict(), "reason": "a malformed per-minute series in the reply"}
        )
        return None
    stats.windows_answered += 1
    return rows


def _collect(
    rows: list[dict[str, Any]], window: Window, into: _Collected, stats: StoreStats
) -> None:
    context = 0
    for row in rows:
        kind = row.get(KIND)
        if kind == ERRORS:
            pair = (str(row[TABLE]), str(row[COLUMN]))
            points = row[POINTS]
            into.points.setdefault(pair, []).extend(points)
            if pair not in into.first_window:
                into.first_window[pair] = window
                into.first_points[pair] = points
            stats.error_rows += int(row[COUNT])
            stats.aggregate_rows += len(points)
        elif kind == CONTROL:
            stats.rows_in_range += int(row[COUNT])
        elif kind in (CONTEXT, RELATED):
            into.context.append(row)
            context += kind == CONTEXT
            stats.related_rows += kind == RELATED
    stats.context_rows += context
    if context >= CONTEXT_LIMIT:
        stats.context_truncated += 1


def _samples(
    store: Store,
    collected: _Collected,
    since: datetime,
    until: datetime,
    settings: StoreSettings,
    stats: StoreStats,
) -> list[dict[str, Any]]:
    """The first few rows of every (table, column), asked for in the window it first shows."""
    by_window: dict[Window, list[tuple[str, str]]] = {}
    for pair, window in collected.first_window.items():
        by_window.setdefault(window, []).append(pair)
    samples: list[dict[str, Any]] = []
    for window in sorted(by_window):
        pairs = by_window[window]
        for i in range(0, len(pairs), PAIRS_PER_SAMPLE_QUERY):
            chunk = pairs[i : i + PAIRS_PER_SAMPLE_QUERY]
            # Only the minutes that hold each pair's first rows, not the whole window.
            spans = [
                first_rows_range(collected.first_points[p], settings.samples_per_pair)
                for p in chunk
            ]
            clip_start, clip_end = window.clip(since, until)
            start = max(clip_start, from_micros(min(a for a, _ in spans)))
            end = min(clip_end, from_micros(max(b for _, b in spans)))
            binder = store.binder()
            sql = samples_sql(
                store.table,
                binder,
                Range(start, end, settings.sources),
                chunk,
                settings.samples_per_pair,
            )
            try:
                samples.extend(store.query(sql, binder, window))
            except WindowFailed:
                continue  # names fall back to the SQL's cut; counted below
            except StoreUnreachable:
                stats.sample_rows = len(samples)
                return samples
    stats.sample_rows = len(samples)
    return samples


def _events(store: Store, collected: _Collected, samples: list[dict[str, Any]]) -> pl.DataFrame:
    rows = samples + collected.context
    parsed = store.parse_rows(rows) if rows else None
    names: dict[tuple[str, str], tuple[str, str]] = {}
    frames: list[pl.DataFrame] = []
    if parsed is not None and parsed.height:
        parsed = _with_row_times(parsed, rows)
        sample_events, names = _sample_events(parsed, samples)
        frames += [sample_events, _context_events(parsed, len(samples))]
    store.stats.pairs_without_sample = sum(
        1 for pair in collected.first_window if pair not in names
    )
    frames.append(_aggregate_events(store, collected.points, names))
    frames = [frame for frame in frames if frame.height]
    if not frames:
        return empty_events()
    return pl.concat(frames, how="vertical").sort(["ts", "source", "line_no"], nulls_last=True)


def _with_row_times(parsed: pl.DataFrame, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Every event takes its row's time from the store (the column the SQL counted by)."""
    times = pl.Series("_at", [from_micros(row[FIRST]) for row in rows], dtype=TS_TYPE)
    at = times.gather(parsed["_row"].cast(pl.UInt32))
    return parsed.with_columns(at.alias("ts"))


def _sample_events(
    parsed: pl.DataFrame, samples: list[dict[str, Any]]
) -> tuple[pl.DataFrame, dict[tuple[str, str], tuple[str, str]]]:
    """PGRST204 events of the sample rows (weight 0) and the SQL names -> parsed names."""
    errors = parsed.filter(
        (pl.col("_row") < len(samples))
        & (pl.col("kind") == Kind.SCHEMA_CACHE_ERROR.value)
        & (pl.col("code") == PGRST204)
        & pl.col("table").is_not_null()
        & pl.col("column").is_not_null()
    ).unique("_row", keep="first", maintain_order=True)
    names: dict[tuple[str, str], tuple[str, str]] = {}
    for row_index, table, column in errors.select("_row", "table", "column").iter_rows():
        row = samples[row_index]
        names.setdefault((str(row[TABLE]), str(row[COLUMN])), (table, column))
    kept = errors.with_columns(
        pl.col("ts").alias("ts_end"), pl.lit(0, dtype=pl.Int64).alias("weight")
    )
    return kept.select(EVENT_COLUMNS), names


def _context_events(parsed: pl.DataFrame, first_context_row: int) -> pl.DataFrame:
    """Reloads, loads, listener lines, DDL and related codes: never a PGRST204 (counted above)."""
    return parsed.filter(
        (pl.col("_row") >= first_context_row)
        & (pl.col("kind").is_in(list(CONTEXT_KINDS)) | pl.col("code").is_in(list(RELATED_CODES)))
    ).select(EVENT_COLUMNS)


def _aggregate_events(
    store: Store,
    points: dict[tuple[str, str], list[Point]],
    names: dict[tuple[str, str], tuple[str, str]],
) -> pl.DataFrame:
    """One event per (table, column, minute), weighted by its count."""
    from parsers.error_body import unescape_text

    tables, columns, firsts, lasts, weights = [], [], [], [], []
    for raw, series in points.items():
        table, column = names.get(raw) or (unescape_text(raw[0]), unescape_text(raw[1]))
        for point in series:
            tables.append(table)
            columns.append(column)
            firsts.append(point.first_us)
            lasts.append(point.last_us)
            weights.append(point.errors)
    if not weights:
        return empty_events()
    frame = pl.DataFrame(
        {"_first": firsts, "_last": lasts, "weight": weights, "table": tables, "column": columns},
        schema={
            "_first": pl.Int64,
            "_last": pl.Int64,
            "weight": pl.Int64,
            "table": pl.String,
            "column": pl.String,
        },
    ).with_columns(
        pl.from_epoch("_first", time_unit="us").dt.replace_time_zone("UTC").alias("ts"),
        pl.from_epoch("_last", time_unit="us").dt.replace_time_zone("UTC").alias("ts_end"),
        pl.lit(store.name).alias("source"),
        pl.lit(store.kind).alias("format"),
        pl.lit(Kind.SCHEMA_CACHE_ERROR.value).alias("kind"),
        pl.lit(PGRST204).alias("code"),
        pl.lit("error").alias("level"),
    )
    return conform(frame).collect()
