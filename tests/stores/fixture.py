"""A deterministic log set over more than 48 h, loaded into the stand-in store and written as a
Supabase export file, so that the store path and the file path can be compared row for row.

`SINCE`..`UNTIL` is 60 h: three windows of at most 24 h. In it:
- `mypoolr.adminname` (new wording, supabase-py repr) every minute for 18 h;
- (`fuzz_rows`, a project of its own) `fuzz.k0000` ... `fuzz.k1009`, one a minute: more
  (table, column) pairs in one window than a 1000-row reply holds, so the cap splits it;
- `Member Details.O'Brien` (old wording, a quote and a space) on the edge of the first two
  windows: one row 1 µs before it, one exactly on it, one 1 µs after it;
- `Quoted "T".col"x` inside a JSON body (escaped quotes), `CamelCase.doseLogs`,
  `Ünïcode tåble.créé`, rows exactly on `SINCE` (counted) and on `UNTIL` (not counted);
- decoys: PGRST205, PGRST116, PostgreSQL 42703, a line that only mentions PGRST204, a
  lower-case look-alike, PGRST204 rows outside the range, an edge_logs 400;
- context: a DDL statement before the first incident, a reload message and a cache load after.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SINCE = datetime(2026, 11, 16, 6, 0, tzinfo=UTC)
UNTIL = datetime(2026, 11, 18, 18, 0, tzinfo=UTC)
EDGE = datetime(2026, 11, 17, 6, 0, tzinfo=UTC)  # the boundary of the first two windows
US = timedelta(microseconds=1)
FUZZ_PAIRS = 1010

REPR = (
    "ERROR app.pools: insert failed: {{'code': 'PGRST204', 'details': None, 'hint': None, "
    "'message': \"Could not find the '{column}' column of '{table}' in the schema cache\"}}"
)
OLD = "log-dose: Error: Column '{column}' of relation '{table}' does not exist"
JSON_BODY = (
    'update failed {{"code":"PGRST204","details":null,"hint":null,"message":'
    "\"Could not find the '{column}' column of '{table}' in the schema cache\"}}"
)


@dataclass(frozen=True)
class LogRow:
    """One row of Supabase's `logs` table (and of otel_logs: ServiceName = source)."""

    ts: datetime
    source: str
    message: str
    severity: str = "INFO"
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"{self.ts.isoformat()}|{self.source}|{self.message}")
        )

    def supabase(self) -> dict[str, Any]:
        """The row as the `logs` table holds it (JSONEachRow for ClickHouse)."""
        return {
            "id": self.id,
            "timestamp": self.ts.strftime("%Y-%m-%d %H:%M:%S.%f"),
            "source": self.source,
            "event_message": self.message,
            "severity_text": self.severity,
            "log_attributes": self.attributes,
        }

    def export(self) -> dict[str, Any]:
        """The row as the Logs Explorer / Management API gives it (naive ISO timestamp)."""
        return {**self.supabase(), "timestamp": self.ts.strftime("%Y-%m-%dT%H:%M:%S.%f")}


def _error(ts: datetime, template: str, table: str, column: str) -> LogRow:
    return LogRow(ts, "function_logs", template.format(table=table, column=column), "ERROR")


def rows() -> list[LogRow]:
    """Every row of the fixture, in time order."""
    out: list[LogRow] = []
    start_a = datetime(2026, 11, 16, 8, 0, 7, 250000, tzinfo=UTC)
    for minute in range(18 * 60):
        out.append(_error(start_a + timedelta(minutes=minute), REPR, "mypoolr", "adminname"))
    out.append(_error(start_a + timedelta(minutes=3, seconds=30), REPR, "mypoolr", "adminname"))
    for moment in (EDGE - US, EDGE, EDGE + US):
        out.append(_error(moment, OLD, "Member Details", "O'Brien"))
    json_start = datetime(2026, 11, 17, 12, 30, tzinfo=UTC)
    for i in range(4):
        out.append(_error(json_start + timedelta(seconds=50 * i), JSON_BODY, 'Quoted "T"', 'col"x'))
    out.append(_error(SINCE, OLD, "CamelCase", "doseLogs"))
    out.append(
        _error(datetime(2026, 11, 18, 17, 59, 59, 999999, tzinfo=UTC), OLD, "CamelCase", "doseLogs")
    )
    out.append(_error(UNTIL, OLD, "CamelCase", "doseLogs"))  # not counted: the end is open
    out.append(_error(SINCE - US, REPR, "CamelCase", "doseLogs"))  # not counted: before the range
    out.append(_error(datetime(2026, 11, 18, 9, 0, tzinfo=UTC), REPR, "Ünïcode tåble", "créé"))
    out.append(
        _error(datetime(2026, 11, 18, 9, 0, 59, 999999, tzinfo=UTC), REPR, "Ünïcode tåble", "créé")
    )
    out += _decoys() + _context() + _noise()
    return sorted(out, key=lambda row: (row.ts, row.source, row.message))


def fuzz_rows() -> list[LogRow]:
    """A client sending a different wrong key every minute: 1010 (table, column) pairs in the
    first window, more than a 1000-row reply holds (served as a project of its own)."""
    return [
        _error(SINCE + timedelta(minutes=i, seconds=30), JSON_BODY, "fuzz", f"k{i:04d}")
        for i in range(FUZZ_PAIRS)
    ]


def _decoys() -> list[LogRow]:
    at = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)
    return [
        LogRow(at, "function_logs", "insert failed: {'code': 'PGRST205', 'details': None, 'hint': None, "
               "'message': \"Could not find the table 'public.ghost' in the schema cache\"}", "ERROR"),
        LogRow(at, "function_logs", '{"code":"PGRST116","details":"The result contains 0 rows","hint":null,'
               '"message":"JSON object requested, multiple (or no) rows returned"}', "ERROR"),
        LogRow(at, "postgres_logs", 'column "adminname" of relation "mypoolr" does not exist', "ERROR",
               {"parsed.sql_state_code": "42703", "parsed.error_severity": "ERROR"}),
        LogRow(at, "function_logs", "alert rule fired: PGRST204 above 5/min on mypoolr", "WARNING"),
        LogRow(at, "function_logs", "column 'adminname' of relation 'mypoolr' does not exist", "ERROR"),
        LogRow(at, "edge_logs", "POST | 400 | 203.0.113.7 | 9ddc9313ff6ba403 | "
               "https://abcdefghijklmnopqrst.supabase.co/rest/v1/mypoolr | python-httpx/0.28.1", "INFO"),
    ]  # fmt: skip


def _context() -> list[LogRow]:
    return [
        LogRow(datetime(2026, 11, 16, 7, 55, 0, 311000, tzinfo=UTC), "postgres_logs",
               "statement: ALTER TABLE public.mypoolr ADD COLUMN admin_id bigint;", "LOG",
               {"parsed.error_severity": "LOG", "parsed.process_id": "812"}),
        LogRow(datetime(2026, 11, 17, 2, 10, tzinfo=UTC), "postgrest_logs",
               '17/Nov/2026:02:10:00 +0000: Received a schema cache reload message on the "pgrst" channel'),
        LogRow(datetime(2026, 11, 17, 2, 10, 1, tzinfo=UTC), "postgrest_logs",
               "17/Nov/2026:02:10:01 +0000: Schema cache loaded 15 Relations, 8 Relationships, 8 RPCs, "
               "0 Domain Representations, 4 Media Type Handlers"),
    ]  # fmt: skip


def _noise() -> list[LogRow]:
    out = []
    moment = SINCE + timedelta(minutes=3)
    while moment < UNTIL:
        out.append(LogRow(moment, "auth_logs", "request completed path=/token status=200"))
        moment += timedelta(minutes=17)
    return out


def write_export(path: Path, fixture_rows: list[LogRow]) -> Path:
    """The rows as a Supabase Logs Explorer JSON export (newest first, as it downloads)."""
    data = [row.export() for row in sorted(fixture_rows, key=lambda r: r.ts, reverse=True)]
    path.write_text(json.dumps(data, ensure_ascii=False, indent=0), encoding="utf-8")
    return path
