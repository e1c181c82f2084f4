"""What the logs say about one incident, in one shape, whatever they were read from.

`log_diagnosis` reasons over `LogFacts`. They are built either from an incident of the
`scan --format json` document (`facts_from_incident`: the incident's `context` and the
document's `related` and `stats`), or, more precisely, from the scanned event table
(`facts_from_events`: exact error times, the level of each DDL statement, PostgreSQL's hints).

Every fact keeps where it was read (`source:line`), so a verdict can cite its evidence.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl
from pglast import ast, parse_sql
from zstandard import ZstdError

from runbook.events import Kind, parse_ts
from runbook.incidents.grouping import CONTEXT_BEFORE, RELOAD_WINDOW, pgrst204_requests
from runbook.incidents.untimed import place_untimed
from runbook.ingest.sources import decompressing

RELOAD_KINDS = (
    Kind.CACHE_RELOAD.value,
    Kind.CACHE_LOAD.value,
    Kind.CACHE_LOAD_FAILED.value,
    Kind.LISTENER.value,
)
# Formats whose presence means "PostgREST's stderr was read": loads and listener lines would show.
POSTGREST_STDERR_FORMATS = frozenset({"postgrest_stderr", "postgrest_docker"})
_HINT = re.compile(r'Perhaps you meant to reference the column \\?"([^"\\]+)\\?"')
HINT_LINES = 4  # PostgreSQL's HINT follows its ERROR within a few lines (stderr text format)
_RENAME = re.compile(r"^RENAME COLUMN (.+?) TO (.+)$")
_PGRST_CHANNEL = re.compile(r"channel=(\S+)")


@dataclass(frozen=True)
class Ref:
    """One log event that matters to the reasoning, with where it was read."""

    ts: datetime | None
    kind: str
    detail: str
    table: str | None
    column: str | None
    message: str
    where: str  # "source:line", or "?" when unknown
    level: str | None = None

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Ref:
        """From a scan-document event reference or an event-table row."""
        ts = row.get("ts")
        if isinstance(ts, str):
            ts = parse_ts(ts)
        source, line = row.get("source"), row.get("line_no")
        return cls(
            ts=ts,
            kind=str(row.get("kind") or ""),
            detail=str(row.get("detail") or ""),
            table=row.get("table"),
            column=row.get("column"),
            message=str(row.get("message") or ""),
            where=f"{source}:{line}" if source else "?",
            level=row.get("level"),
        )

    @property
    def failed(self) -> bool:
        """A DDL statement PostgreSQL rejected (the parser marks it with level `error`)."""
        return (self.level or "").lower() in ("error", "fatal", "critical")

    def channel(self) -> str | None:
        """The NOTIFY/LISTEN channel this event names, if any."""
        found = _PGRST_CHANNEL.search(self.detail)
        if found:
            return found.group(1)
        if self.kind == Kind.CACHE_RELOAD.value and not self.detail.startswith("notify"):
            return self.detail.split(":", 1)[0].strip() or None  # DB log: "<channel>: <payload>"
        return None

    @property
    def from_database_log(self) -> bool:
        """A NOTIFY statement in PostgreSQL's log (PostgREST's own lines say "notify ...")."""
        return self.kind == Kind.CACHE_RELOAD.value and not self.detail.startswith("notify")


@dataclass
class LogFacts:
    """The incident's errors and the DDL, reload, load, listener and database-error events."""

    table: str
    column: str
    schema: str | None
    count: int
    first_seen: datetime | None
    last_seen: datetime | None
    first_where: str | None = None
    endpoints: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    error_times: list[tuple[datetime, int]] | None = None  # exact (when, weight), if known
    per_minute: list[tuple[datetime, int]] = field(default_factory=list)
    migrations: list[Ref] = field(default_factory=list)  # DDL on the table, time order
    renames: list[Ref] = field(default_factory=list)  # RENAME COLUMN <column> TO ...
    reloads: list[Ref] = field(default_factory=list)  # reload/load/failed/listener, time order
    db_errors: list[Ref] = field(default_factory=list)  # 42703 naming this column
    hints: list[str] = field(default_factory=list)  # columns PostgreSQL suggested instead
    postgrest_log: bool | None = None  # PostgREST's stderr was among the inputs
    database_log: bool | None = None  # a PostgreSQL log was among the inputs

    def errors_after(self, moment: datetime) -> int:
        """Failed requests after `moment`; from minute buckets (a lower bound) when inexact."""
        if self.error_times is not None:
            return sum(w for ts, w in self.error_times if ts > moment)
        if self.last_seen is None or self.last_seen <= moment:
            return 0
        later = sum(c for minute, c in self.per_minute if minute > moment)
        return max(later, 1)

    def continue_after(self, moment: datetime, grace: timedelta) -> bool:
        """Whether any failure comes later than `moment + grace` (requests in flight excluded)."""
        return self.last_seen is not None and self.last_seen > moment + grace

    def of_kind(self, kind: str) -> list[Ref]:
        return [r for r in self.reloads if r.kind == kind and r.ts is not None]

    def known_columns(self) -> list[str]:
        """The table's columns as far as the logged DDL and PostgreSQL's hints say."""
        present: dict[str, None] = {}
        for ref in self.migrations:
            if ref.failed:
                continue
            if ref.detail == "CREATE TABLE":
                present.update(dict.fromkeys(created_columns(ref.message)))
            elif ref.detail == "ADD COLUMN" and ref.column:
                present[ref.column] = None
            elif ref.detail == "DROP COLUMN" and ref.column:
                present.pop(ref.column, None)
            elif (renamed := rename_of(ref)) is not None:
                present.pop(renamed[0], None)
                present[renamed[1]] = None
        present.update(dict.fromkeys(self.hints))
        return list(present)


# -- building ------------------------------------------------------------------------------


def facts_from_incident(
    incident: Mapping[str, Any],
    related: Iterable[Mapping[str, Any]] = (),
    formats: Mapping[str, int] | None = None,
) -> LogFacts:
    """Facts from one incident of `scan --format json` (plus its `related` and `stats.formats`).

    Reload and load events come from `context.reloads` (an hour either side of the errors);
    error times come from the per-minute counts, so counts after a moment are lower bounds.
    """
    ctx = incident.get("context") or {}
    facts = _base(incident)
    migrations = {_key(r): Ref.of(r) for r in ctx.get("migrations") or []}
    if ctx.get("migration_before"):
        ref = Ref.of(ctx["migration_before"])
        migrations.setdefault(_key(ctx["migration_before"]), ref)
    facts.migrations = _by_time(migrations.values())
    facts.renames = _by_time(Ref.of(r) for r in ctx.get("renames") or [])
    facts.reloads = _by_time(Ref.of(r) for r in ctx.get("reloads") or [])
    for rel in related:
        if rel.get("code") == "42703" and rel.get("column") == facts.column:
            if rel.get("table") in (None, facts.table):
                facts.db_errors.append(
                    Ref(
                        parse_ts(rel.get("first_seen")),
                        Kind.DB_ERROR.value,
                        "42703",
                        rel.get("table"),
                        rel.get("column"),
                        str(rel.get("message") or ""),
                        "?",
                    )
                )
                facts.hints += _hints(str(rel.get("message") or ""))
    if formats is not None:
        names = set(formats)
        facts.postgrest_log = bool(names & POSTGREST_STDERR_FORMATS)
        facts.database_log = any(_is_database_format(n) for n in names) or None
    else:
        facts.postgrest_log = _postgrest_seen(facts.reloads) or None
    if facts.migrations or any(r.from_database_log for r in facts.reloads):
        facts.database_log = True
    return facts


def facts_from_events(incident: Mapping[str, Any], events: pl.DataFrame) -> LogFacts:
    """Facts from the scanned event table: exact times, DDL levels, hints, all reload lines."""
    facts = _base(incident)
    table, column = facts.table, facts.column
    all_requests = pgrst204_requests(events).filter(
        (pl.col("table") == table) & (pl.col("column") == column)
    )
    requests = all_requests.filter(pl.col("ts").is_not_null())
    facts.error_times = [
        (end or ts, int(w or 1))
        for ts, end, w in requests.select("ts", "ts_end", "weight").iter_rows()
    ]
    # An untimed failure counts from the earliest time its neighbours allow (a lower bound).
    facts.error_times += [
        (spot.after, spot.weight)
        for spot in place_untimed(all_requests, events)
        if spot is not None and spot.after is not None
    ]
    last = facts.last_seen
    ddl = events.filter(
        (pl.col("kind") == Kind.MIGRATION.value)
        & (pl.col("table").str.to_lowercase() == table.lower())
    )
    if last is not None:
        ddl = ddl.filter(pl.col("ts").is_null() | (pl.col("ts") <= last))
    facts.migrations = _by_time(Ref.of(r) for r in ddl.iter_rows(named=True))
    facts.renames = [r for r in facts.migrations if (rn := rename_of(r)) and rn[0] == column]
    facts.reloads = _reload_refs(events, facts)
    errors = events.filter(
        (pl.col("kind") == Kind.DB_ERROR.value)
        & (pl.col("code") == "42703")
        & (pl.col("column") == column)
        & (pl.col("table").is_null() | (pl.col("table") == table))
    )
    for row in errors.iter_rows(named=True):
        ref = Ref.of(row)
        facts.db_errors.append(ref)
        text = f"{row.get('message') or ''} {row.get('raw') or ''}"
        facts.hints += _hints(text) or _hints(_lines_at(row.get("source"), row.get("line_no")))
    facts.hints = list(dict.fromkeys(facts.hints))
    names = set(events["format"].drop_nulls().unique().to_list())
    facts.postgrest_log = bool(names & POSTGREST_STDERR_FORMATS) or _postgrest_seen(facts.reloads)
    facts.database_log = any(_is_database_format(n) for n in names) or bool(facts.migrations)
    return facts


def _base(incident: Mapping[str, Any]) -> LogFacts:
    samples = incident.get("samples") or []
    first_where = None
    if samples and samples[0].get("source"):
        first_where = f"{samples[0]['source']}:{samples[0].get('line_no')}"
    per_minute = []
    for point in incident.get("per_minute") or []:
        minute = parse_ts(point.get("minute"))
        if minute is not None:
            per_minute.append((minute, int(point.get("count") or 0)))
    return LogFacts(
        table=str(incident["table"]),
        column=str(incident["column"]),
        schema=incident.get("schema"),
        count=int(incident.get("count") or 0),
        first_seen=_as_dt(incident.get("first_seen")),
        last_seen=_as_dt(incident.get("last_seen")),
        first_where=first_where,
        endpoints=list(incident.get("endpoints") or []),
        sources=list(incident.get("sources") or []),
        per_minute=per_minute,
    )


def _reload_refs(events: pl.DataFrame, facts: LogFacts) -> list[Ref]:
    rows = events.filter(pl.col("kind").is_in(list(RELOAD_KINDS)) & pl.col("ts").is_not_null())
    if facts.first_seen is not None and facts.last_seen is not None:
        earliest = min([facts.first_seen] + [m.ts for m in facts.migrations if m.ts])
        rows = rows.filter(
            pl.col("ts").is_between(earliest - CONTEXT_BEFORE, facts.last_seen + RELOAD_WINDOW)
        )
    return _by_time(Ref.of(r) for r in rows.iter_rows(named=True))


def _postgrest_seen(reloads: list[Ref]) -> bool:
    return any(
        r.kind in (Kind.CACHE_LOAD.value, Kind.LISTENER.value, Kind.CACHE_LOAD_FAILED.value)
        or r.detail.startswith("notify")
        for r in reloads
    )


def _is_database_format(name: str) -> bool:
    return name.startswith("postgres_") or "postgres_logs" in name


def _key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return (row.get("source"), row.get("line_no"), row.get("column"), row.get("detail"))


def _by_time(refs: Iterable[Ref]) -> list[Ref]:
    return sorted(refs, key=lambda r: (r.ts is None, r.ts or datetime.min, r.where))


def _hints(text: str) -> list[str]:
    return [name.rsplit(".", 1)[-1] for name in _HINT.findall(text)]


def _lines_at(source: str | None, line_no: int | None) -> str:
    """The logged lines from `line_no` on (where PostgreSQL's HINT is), or "" if unreadable."""
    if not source or not line_no or source == "-":
        return ""
    try:
        with open(source, "rb") as raw, decompressing(raw) as stream:
            lines = itertools.islice(stream, line_no - 1, line_no - 1 + HINT_LINES)
            return b" ".join(lines).decode("utf-8", "replace")
    except (OSError, EOFError, ValueError, ZstdError):
        return ""


def _as_dt(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else parse_ts(value)


# -- DDL text ------------------------------------------------------------------------------


def unquote_ident(text: str) -> str:
    """`"adminName"` -> `adminName`, `admin_id` -> `admin_id` (quote_ident's inverse)."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('""', '"')
    return text


def rename_of(ref: Ref) -> tuple[str, str] | None:
    """(old, new) for a `RENAME COLUMN old TO new` migration event, else None."""
    found = _RENAME.match(ref.detail)
    if found is None:
        return None
    return unquote_ident(found.group(1)), unquote_ident(found.group(2))


def created_columns(statement: str) -> list[str]:
    """Column names of a logged `CREATE TABLE` statement (empty when it does not parse)."""
    try:
        parsed = parse_sql(statement)
    except Exception:
        return []
    out: list[str] = []
    for raw in parsed:
        stmt = raw.stmt
        if isinstance(stmt, ast.CreateStmt):
            out += [
                e.colname
                for e in stmt.tableElts or ()
                if isinstance(e, ast.ColumnDef) and e.colname
            ]
    return out


def adds_column(ref: Ref, column: str) -> bool:
    """Whether a migration event leaves `column` on its table (ADD, CREATE TABLE, RENAME TO)."""
    if ref.detail == "ADD COLUMN":
        return ref.column == column
    if ref.detail == "CREATE TABLE":
        return column in created_columns(ref.message)
    renamed = rename_of(ref)
    return renamed is not None and renamed[1] == column
