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
from datetime import UTC, datetime
from typing import Any, Protocol

import polars as pl

from runbook.events import EVENT_COLUMNS, PGRST204, TS_TYPE, Kind, conform, empty_events
from runbook.scanner import SourceStats
from runbook.stores import Progress, StoreSettings, StoreUnreachable
from runbook.stores.sql import (
    COLUMN,
    CONTEXT,
    CONTEXT_LIMIT,
    CONTROL,
    COUNT,
    ERRORS,
    FIRST,
    KIND,
    LAST,
    TABLE,
    Binder,
    LogTable,
    Range,
    samples_sql,
    window_sql,
)
from runbook.stores.windows import Window, plan

PAIRS_PER_SAMPLE_QUERY = 40
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


@dataclass
class StoreStats:
    """What a store scan did; `to_dict()` is the `stats.stores[]` entry of `scan --format json`."""

    store: str
    kind: str
    since: datetime | None = None
    until: datetime | None = None
    layout: str | None = None
    windows: int = 0
    windows_answered: int = 0
    windows_split: int = 0
    dark_windows: list[dict[str, str]] = field(default_factory=list)
    capped_windows: list[dict[str, str]] = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    waited_seconds: float = 0.0
    rows_in_range: int = 0  # the control counts: rows of the scanned sources in range
    rows_read: int | None = None  # the engine's own summary, where it gives one
    bytes_sent: int = 0
    bytes_received: int = 0
    error_rows: int = 0  # PGRST204 rows counted in the engine
    aggregate_rows: int = 0
    sample_rows: int = 0
    context_rows: int = 0
    context_truncated: int = 0  # windows whose context rows hit CONTEXT_LIMIT
    pairs_without_sample: int = 0  # names taken as the SQL cut them (no parsed sample)

    @property
    def bytes_moved(self) -> int:
        return self.bytes_sent + self.bytes_received

    @property
    def partial(self) -> bool:
        return bool(self.dark_windows or self.capped_windows)

    def add_rows_read(self, rows: int | None) -> None:
        if rows is not None:
            self.rows_read = (self.rows_read or 0) + rows

    def to_dict(self) -> dict[str, object]:
        return {
            "store": self.store,
            "kind": self.kind,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "layout": self.layout,
            "windows": self.windows,
            "windows_answered": self.windows_answered,
            "windows_split": self.windows_split,
            "dark_windows": self.dark_windows,
            "capped_windows": self.capped_windows,
            "partial": self.partial,
            "requests": self.requests,
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "waited_seconds": round(self.waited_seconds, 3),
            "rows_in_range": self.rows_in_range,
            "rows_read": self.rows_read,
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
            "bytes_moved": self.bytes_moved,
            "error_rows": self.error_rows,
            "aggregate_rows": self.aggregate_rows,
            "sample_rows": self.sample_rows,
            "context_rows": self.context_rows,
            "context_truncated": self.context_truncated,
            "pairs_without_sample": self.pairs_without_sample,
        }


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
    errors: list[dict[str, Any]] = field(default_factory=list)
    context: list[dict[str, Any]] = field(default_factory=list)
    first_window: dict[tuple[str, str], Window] = field(default_factory=dict)


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
    stats.windows_answered += 1
    return rows


def _collect(
    rows: list[dict[str, Any]], window: Window, into: _Collected, stats: StoreStats
) -> None:
    context = 0
    for row in rows:
        kind = row.get(KIND)
        if kind == ERRORS:
            into.errors.append(row)
            pair = (str(row[TABLE]), str(row[COLUMN]))
            into.first_window.setdefault(pair, window)
            stats.error_rows += int(row[COUNT])
            stats.aggregate_rows += 1
        elif kind == CONTROL:
            stats.rows_in_range += int(row[COUNT])
        elif kind == CONTEXT:
            into.context.append(row)
            context += 1
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
        start, end = window.clip(since, until)
        for i in range(0, len(pairs), PAIRS_PER_SAMPLE_QUERY):
            chunk = pairs[i : i + PAIRS_PER_SAMPLE_QUERY]
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


def _micros(value: object) -> datetime:
    return datetime.fromtimestamp(int(value) / 1_000_000, tz=UTC)  # type: ignore[call-overload]


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
    frames.append(_aggregate_events(store, collected.errors, names))
    frames = [frame for frame in frames if frame.height]
    if not frames:
        return empty_events()
    return pl.concat(frames, how="vertical").sort(["ts", "source", "line_no"], nulls_last=True)


def _with_row_times(parsed: pl.DataFrame, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Every event takes its row's time from the store (the column the SQL counted by)."""
    times = pl.Series("_at", [_micros(row[FIRST]) for row in rows], dtype=TS_TYPE)
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
    return parsed.filter(
        (pl.col("_row") >= first_context_row) & pl.col("kind").is_in(list(CONTEXT_KINDS))
    ).select(EVENT_COLUMNS)


def _aggregate_events(
    store: Store, errors: list[dict[str, Any]], names: dict[tuple[str, str], tuple[str, str]]
) -> pl.DataFrame:
    from parsers.error_body import unescape_text

    if not errors:
        return empty_events()
    tables, columns = [], []
    for row in errors:
        raw = (str(row[TABLE]), str(row[COLUMN]))
        table, column = names.get(raw) or (unescape_text(raw[0]), unescape_text(raw[1]))
        tables.append(table)
        columns.append(column)
    frame = pl.DataFrame(
        {
            "ts": [_micros(row[FIRST]) for row in errors],
            "ts_end": [_micros(row[LAST]) for row in errors],
            "weight": [int(row[COUNT]) for row in errors],
            "table": tables,
            "column": columns,
        }
    ).with_columns(
        pl.lit(store.name).alias("source"),
        pl.lit(store.kind).alias("format"),
        pl.lit(Kind.SCHEMA_CACHE_ERROR.value).alias("kind"),
        pl.lit(PGRST204).alias("code"),
        pl.lit("error").alias("level"),
    )
    return conform(frame).collect()
