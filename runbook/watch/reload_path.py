"""Is a DDL statement or a reload request followed by a confirmed schema cache load in time?

Kept in log time (the newest event read is the clock), so recorded logs give the same answer
as live ones. Only judged when PostgREST's own lines are among the inputs (something it logs
was seen): without them no load could ever be confirmed.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from runbook.events import Kind

MAX_TRIGGERS = 1000
# PostgREST's stderr has whole seconds: a load stamped up to this much before a DDL can be the
# load that DDL's reload caused (same second, logged by another clock).
RESOLUTION = timedelta(seconds=1)  # unconfirmed triggers kept (the oldest matter; memory stays bounded)
_POSTGREST = (Kind.CACHE_LOAD.value, Kind.CACHE_LOAD_FAILED.value, Kind.STARTUP.value, Kind.LISTENER.value)


@dataclass
class Trigger:
    ts: datetime
    what: str  # "ADD COLUMN members.telegram_handle", "reload request (notify channel=pgrst)"
    confirmed_at: datetime | None = None  # the first load after it (late), None: none yet


@dataclass(frozen=True)
class FailedLoad:
    ts: datetime
    why: str  # PostgREST's logged cause (redacted by the parser), or where it was seen


@dataclass
class ReloadPath:
    """Triggers (DDL, reload requests) and confirmed loads, in log time, in any read order."""

    deadline_seconds: float = 60.0
    sees_postgrest: bool = False
    newest: datetime | None = None
    failed_loads: int = 0
    _loads: list[datetime] = field(default_factory=list)  # sorted, the last MAX_TRIGGERS
    _triggers: list[tuple[datetime, str]] = field(default_factory=list)  # not yet judged, sorted
    _failures: list[FailedLoad] = field(default_factory=list)  # sorted, the last MAX_TRIGGERS

    @property
    def last_load(self) -> datetime | None:
        return self._loads[-1] if self._loads else None

    def add(self, events: pl.DataFrame) -> None:
        rows = events.filter(
            pl.col("ts").is_not_null()
            & pl.col("kind").is_in([Kind.MIGRATION.value, Kind.CACHE_RELOAD.value, *_POSTGREST])
        ).select("ts", "kind", "level", "table", "column", "detail", "code", "message")
        newest = events["ts"].drop_nulls().max() if events.height else None
        if isinstance(newest, datetime) and (self.newest is None or newest > self.newest):
            self.newest = newest
        for ts, kind, level, table, column, detail, code, message in rows.iter_rows():
            if kind in _POSTGREST:
                self.sees_postgrest = True
            if kind == Kind.CACHE_LOAD.value:
                self.add_load(ts)
            elif kind == Kind.CACHE_LOAD_FAILED.value:
                self.add_failure(ts, _cause(code, message))
            elif kind == Kind.MIGRATION.value and level != "error":  # a failed DDL applied nothing
                name = ".".join(p for p in (table, column) if p)
                bisect.insort(self._triggers, (ts, f"{detail or 'DDL'} {name}".strip()))
            elif kind == Kind.CACHE_RELOAD.value:
                what = f"reload request ({detail})" if detail else "reload request"
                bisect.insort(self._triggers, (ts, what))
        del self._triggers[MAX_TRIGGERS:]

    def to_dict(self) -> dict[str, Any]:
        """What a restart needs to go on judging (JSON; times as ISO 8601)."""
        return {
            "deadline_seconds": self.deadline_seconds,
            "sees_postgrest": self.sees_postgrest,
            "newest": self.newest.isoformat() if self.newest else None,
            "failed_loads": self.failed_loads,
            "loads": [t.isoformat() for t in self._loads],
            "triggers": [[t.isoformat(), what] for t, what in self._triggers],
            "failures": [[f.ts.isoformat(), f.why] for f in self._failures],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], deadline_seconds: float) -> ReloadPath:
        """The saved reload path; the deadline is this run's (it may have been changed)."""
        when = datetime.fromisoformat
        path = cls(deadline_seconds)
        path.sees_postgrest = bool(data.get("sees_postgrest"))
        path.newest = when(data["newest"]) if data.get("newest") else None
        path.failed_loads = int(data.get("failed_loads") or 0)
        path._loads = sorted(when(t) for t in data.get("loads") or [])[-MAX_TRIGGERS:]
        path._triggers = sorted((when(t), str(w)) for t, w in data.get("triggers") or [])[:MAX_TRIGGERS]
        path._failures = sorted(
            (FailedLoad(when(t), str(w)) for t, w in data.get("failures") or []), key=lambda f: f.ts
        )[-MAX_TRIGGERS:]
        return path

    def settle(self, load: datetime) -> None:
        """Forget the triggers up to `load`: that load answered them (late or not)."""
        self._triggers = [(t, w) for t, w in self._triggers if t > load]

    def add_load(self, ts: datetime) -> None:
        """A confirmed load: a `Schema cache loaded` line, or the admin SUCCESS counter moving."""
        self.sees_postgrest = True
        bisect.insort(self._loads, ts)
        del self._loads[: max(0, len(self._loads) - MAX_TRIGGERS)]

    def add_failure(self, ts: datetime, why: str) -> None:
        """A failed load: a `Failed to load the schema cache` line, or the admin FAIL counter."""
        self.sees_postgrest = True
        self.failed_loads += 1
        bisect.insort(self._failures, FailedLoad(ts, why), key=lambda f: f.ts)
        del self._failures[: max(0, len(self._failures) - MAX_TRIGGERS)]

    def see(self, ts: datetime) -> None:
        """Move the log clock (an admin poll counts as a reading of PostgREST)."""
        if self.newest is None or ts > self.newest:
            self.newest = ts

    def failing(self) -> FailedLoad | None:
        """The first failed load of the current run of failures: no confirmed load came after
        the latest failure. None when the last word is a successful load (or no failure)."""
        if not self._failures:
            return None
        last = self._failures[-1]
        if self._loads and self._loads[-1] > last.ts:
            return None
        i = len(self._failures) - 1
        load = self._loads[-1] if self._loads else None
        while i > 0 and (load is None or self._failures[i - 1].ts > load):
            i -= 1
        return self._failures[i]

    def first_load_after(self, ts: datetime) -> datetime | None:
        """The first confirmed load strictly after `ts` (a load in the same second may be
        the one that came before the failure, so it is not counted)."""
        i = bisect.bisect_right(self._loads, ts)
        return self._loads[i] if i < len(self._loads) else None

    def loads_after(self, ts: datetime) -> list[datetime]:
        """Confirmed loads at or after `ts` (within the log clock's resolution)."""
        return self._loads[bisect.bisect_left(self._loads, ts - RESOLUTION):]

    def late(self, after: datetime | None = None) -> Trigger | None:
        """The oldest trigger (later than `after`) that no confirmed load followed within the
        deadline: `confirmed_at` is the load that came late, None when none came yet."""
        if not self.sees_postgrest or self.newest is None:
            return None
        keep: list[tuple[datetime, str]] = []
        found: Trigger | None = None
        for ts, what in self._triggers:
            if after is not None and ts <= after:
                continue  # told already
            i = bisect.bisect_left(self._loads, ts - RESOLUTION)
            load = self._loads[i] if i < len(self._loads) else None
            if load is not None and (load - ts).total_seconds() < self.deadline_seconds:
                continue  # confirmed in time
            if load is None and (self.newest - ts).total_seconds() < self.deadline_seconds:
                keep.append((ts, what))  # not late yet
                continue
            if found is None:
                found = Trigger(ts, what, load)
            keep.append((ts, what))
        self._triggers = keep
        return found


def _cause(code: str | None, message: str | None) -> str:
    text = (message or "").strip()
    if code and code not in text:
        text = f"{code}: {text}" if text else code
    return text[:300] or "Failed to load the schema cache"
