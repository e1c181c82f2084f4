"""When things happened in the logs of one incident: the lookups the verdict rules ask of
`LogFacts` (the DDL that made the column, the loads and reloads around a moment, the listener).
Pure: no I/O."""

from __future__ import annotations

from datetime import datetime, timedelta

from runbook.diagnosis.log_facts import LogFacts, Ref, adds_column
from runbook.events import Kind

IN_FLIGHT = timedelta(seconds=1)  # requests PostgREST planned before its new cache was swapped in
LOAD_AFTER_RELOAD = timedelta(seconds=60)  # a reload is applied if a load line follows this soon
LISTENER_DOWN = ("failed", "retry", "queue_bug")


def created(f: LogFacts) -> Ref | None:
    made = [m for m in f.migrations if m.detail == "CREATE TABLE" and not m.failed]
    return made[-1] if made else None


def adding_ddl(f: LogFacts) -> Ref | None:
    """The last successful DDL before the first failure that leaves the column on the table."""
    found = [
        m
        for m in f.migrations
        if not m.failed and adds_column(m, f.column) and before(m.ts, f.first_seen)
    ]
    return found[-1] if found else None


def first_load_after(f: LogFacts, moment: datetime | None) -> Ref | None:
    if moment is None:
        return None
    loads = [r for r in f.of_kind(Kind.CACHE_LOAD.value) if r.ts and r.ts > moment]
    return loads[0] if loads else None


def load_within(f: LogFacts, moment: datetime) -> Ref | None:
    for r in f.of_kind(Kind.CACHE_LOAD.value):
        if r.ts is not None and moment <= r.ts <= moment + LOAD_AFTER_RELOAD:
            return r
    return None


def failed_load_within(f: LogFacts, moment: datetime) -> Ref | None:
    for r in f.of_kind(Kind.CACHE_LOAD_FAILED.value):
        if r.ts is not None and moment <= r.ts <= moment + LOAD_AFTER_RELOAD:
            return r
    return None


def reload_before(f: LogFacts, moment: datetime) -> Ref | None:
    for r in reversed(f.of_kind(Kind.CACHE_RELOAD.value)):
        if r.ts is not None and moment - LOAD_AFTER_RELOAD <= r.ts <= moment:
            return r
    return None


def listener_down(f: LogFacts, since: datetime) -> Ref | None:
    """The last listener failure before the last error with no `up` line after it."""
    state: Ref | None = None
    for r in f.of_kind(Kind.LISTENER.value):
        if f.last_seen is not None and r.ts is not None and r.ts > f.last_seen:
            break
        state = r
    if state is None or state.ts is None or state.ts < since - timedelta(hours=1):
        return None
    return state if state.detail.split(" ", 1)[0] in LISTENER_DOWN else None


def stopped_after_later_load(f: LogFacts, unapplied: list[Ref]) -> Ref | None:
    if not unapplied or unapplied[-1].ts is None:
        return None
    load = first_load_after(f, unapplied[-1].ts)
    if load is not None and load.ts is not None and not f.continue_after(load.ts, IN_FLIGHT):
        return load
    return None


def before(ts: datetime | None, limit: datetime | None) -> bool:
    return ts is None or limit is None or ts <= limit
