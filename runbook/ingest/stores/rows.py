"""Sample and context rows from a store, read by the same parsers as files.

In: the rows a store returned (`sql.COLUMNS`: time in µs, service, message). Out:
events in the `runbook.events` schema plus `_row`, the index of the row each came from; `ts` is
left to the caller (the store's own time column is the authority there).

- Supabase rows are what the Management API returns, so they go through the `supabase_json`
  export parser as a Management API reply (one row per line, so a line number is a row).
- ClickHouse rows hold a raw log line each (otel `Body`): the format is detected per line as
  for a file. PostgREST and PostgreSQL lines whose collector dropped the line prefix are read
  again with the prefix restored from the row's time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import polars as pl

from parsers import registry
from parsers.base import LogFormat
from runbook.events import EVENT_COLUMNS, RAW_MAX_CHARS, empty_events
from runbook.ingest.scanner import SourceScanner
from runbook.ingest.stores.sql import FIRST, MESSAGE, SERVICE
from runbook.redact import redact

ROW = "_row"


def _row_time(row: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(int(row[FIRST]) / 1_000_000, tz=UTC)


def _empty() -> pl.DataFrame:
    return empty_events().with_columns(pl.lit(None, dtype=pl.Int64).alias(ROW))


def export_document(rows: list[dict[str, Any]]) -> bytes:
    """The rows as a Management API reply, row `i` on line `i + 2`."""
    lines = [
        json.dumps(
            {
                "timestamp": int(row[FIRST]),
                "source": row.get(SERVICE) or None,
                "event_message": row.get(MESSAGE) or "",
            },
            ensure_ascii=False,
        )
        for row in rows
    ]
    return ('{"result": [\n' + ",\n".join(lines) + '\n], "error": null}\n').encode()


def parse_export_rows(rows: list[dict[str, Any]], source: str) -> pl.DataFrame:
    """Events of Supabase `logs` rows through the `supabase_json` parser."""
    if not rows:
        return _empty()
    scanner = SourceScanner(source, registry.BY_NAME["supabase_json"], "UTC")
    events = scanner.document(export_document(rows))
    if events.height == 0:
        return _empty()
    return events.with_columns((pl.col("line_no") - 2).alias(ROW)).with_columns(
        pl.lit(None, dtype=pl.Int64).alias("line_no"),
        pl.lit(None, dtype=pl.Int64).alias("record_no"),
    )


def _postgrest_prefix(moment: datetime) -> str:
    return f"{moment:%d/%b/%Y:%H:%M:%S} +0000: "


def _postgres_prefix(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 1000:03d} UTC [0] LOG:  "


# (format name, prefix maker) tried when a line read as it is yields nothing.
_RESTORED: tuple[tuple[str, Callable[[datetime], str]], ...] = (
    ("postgrest_stderr", _postgrest_prefix),
    ("postgres_log", _postgres_prefix),
)


def _scan_text(text: str, fmt: LogFormat, source: str) -> pl.DataFrame:
    scanner = SourceScanner(source, fmt, "UTC")
    data = text.encode("utf-8", "replace")
    if fmt.whole_file:
        return scanner.document(data)
    frames = [scanner.feed(data + b"\n"), scanner.finish()]
    return pl.concat([f for f in frames if f.height] or [empty_events()])


def _line_events(row: dict[str, Any], source: str) -> pl.DataFrame:
    text = str(row.get(MESSAGE) or "")
    if not text.strip():
        return empty_events()
    events = _scan_text(text, registry.detect(text.encode("utf-8", "replace")), source)
    if events.height:
        return events
    moment = _row_time(row)
    for name, prefix in _RESTORED:
        fmt = registry.BY_NAME.get(name)
        if fmt is None:
            continue
        events = _scan_text(prefix(moment) + text, fmt, source)
        if events.height:
            return events
    return empty_events()


def _batches(rows: list[dict[str, Any]]) -> tuple[dict[str, list[int]], list[int]]:
    """Rows grouped by detected format where each is one line that starts a record (these can
    be scanned together, one line per row), and the rest (scanned one by one)."""
    batches: dict[str, list[int]] = {}
    alone: list[int] = []
    for index, row in enumerate(rows):
        text = str(row.get(MESSAGE) or "").rstrip("\r\n")
        if not text.strip():
            continue
        fmt = registry.detect(text.encode("utf-8", "replace"))
        if "\n" in text or "\r" in text or fmt.whole_file or not fmt.is_record_start(text):
            alone.append(index)
        else:
            batches.setdefault(fmt.name, []).append(index)
    return batches, alone


def parse_line_rows(rows: list[dict[str, Any]], source: str) -> pl.DataFrame:
    """Events of rows that each hold one raw log line (or one multi-line record)."""
    frames: list[pl.DataFrame] = []
    batches, alone = _batches(rows)
    for name, indexes in batches.items():
        text = "\n".join(str(rows[i][MESSAGE]).rstrip("\r\n") for i in indexes)
        events = _scan_text(text, registry.BY_NAME[name], source)
        if events.height:
            row_of_line = pl.Series(
                [indexes[n - 1] for n in events["line_no"].to_list()], dtype=pl.Int64
            )
            frames.append(events.with_columns(row_of_line.alias(ROW)))
        found = set(frames[-1][ROW].to_list()) if events.height else set()
        alone += [i for i in indexes if i not in found]  # e.g. a prefix to restore
    for index in sorted(alone):
        events = _line_events(rows[index], source)
        if events.height:
            frames.append(events.with_columns(pl.lit(index, dtype=pl.Int64).alias(ROW)))
    if not frames:
        return _empty()
    events = pl.concat(frames, how="vertical")
    raws = [(redact(str(row.get(MESSAGE) or "")) or "")[:RAW_MAX_CHARS] for row in rows]
    return events.with_columns(
        pl.Series(raws, dtype=pl.String).gather(events[ROW]).alias("raw"),
        pl.lit(None, dtype=pl.Int64).alias("line_no"),
        pl.lit(None, dtype=pl.Int64).alias("record_no"),
    ).select([*EVENT_COLUMNS, ROW])
