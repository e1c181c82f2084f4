"""Incidents of a growing event table: what follow and replay show as events arrive.

`IncidentTracker` collects event batches (from `Follower` or `replay`), regroups them into
incidents on demand, and says what changed since it was last asked: a new incident, or more
requests for a known one. Grouping reruns over every event so far; it is cheap (the table
holds only the lines that matter), and callers ask at most a few times a second. Once the
table is large, failed requests older than `KEEP_LINES_FOR` before the newest event are folded
into per-minute counts (`runbook.incidents.compaction`): a follow or a `watch` that runs for
days keeps incidents, counts and timelines exact in memory that grows by the minute, not by
the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from runbook.events import empty_events
from runbook.incidents.compaction import compact
from runbook.incidents.grouping import Incident, group_incidents
from runbook.ingest.scan import merge, within

NEW, COUNT = "new", "count"
COMPACT_ROWS = 20_000  # fold old requests once the table holds this many rows (and twice its
# size after the last fold, so folding never runs on every batch)
KEEP_LINES_FOR = timedelta(minutes=10)  # requests this close to the newest event stay lines


def incident_key(incident: Incident) -> tuple[str, str]:
    """What identifies an incident while it grows: its table and column (the id has the time)."""
    return (incident.table, incident.column)


@dataclass(frozen=True)
class IncidentChange:
    """`kind` is "new" (first seen) or "count" (more failed requests than last reported)."""

    kind: str
    incident: Incident
    previous_count: int = 0

    @property
    def added(self) -> int:
        return self.incident.count - self.previous_count


class IncidentTracker:
    """Events so far, and the incidents they make. Not thread-safe: one owner adds and asks."""

    def __init__(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        compact_rows: int = COMPACT_ROWS,
    ) -> None:
        self.since = since
        self.until = until
        self._frames: list[pl.DataFrame] = []
        self._events: pl.DataFrame = empty_events()
        self._incidents: list[Incident] = []
        self._dirty = False
        self._reported: dict[tuple[str, str], int] = {}
        self.compact_rows = compact_rows
        self._compact_at = compact_rows

    def add(self, events: pl.DataFrame) -> int:
        """Take new events (any order, any sources); returns how many were kept."""
        events = within(events, self.since, self.until)
        if events.height:
            self._frames.append(events)
            self._dirty = True
        return events.height

    @property
    def dirty(self) -> bool:
        """True when events came in since the incidents were last computed."""
        return self._dirty

    def __len__(self) -> int:
        """How many events were kept (without merging them)."""
        return self._events.height + sum(f.height for f in self._frames)

    @property
    def events(self) -> pl.DataFrame:
        """Every kept event, ordered by time."""
        if self._frames:
            self._events = merge([self._events, *self._frames])
            self._frames = []
            if self._events.height >= self._compact_at:
                newest = self._events["ts"].max()
                if isinstance(newest, datetime):
                    self._events = compact(self._events, newest - KEEP_LINES_FOR)
                self._compact_at = max(self.compact_rows, 2 * self._events.height)
        return self._events

    def incidents(self) -> list[Incident]:
        """The incidents of every event so far, most failed requests first."""
        if self._dirty:
            self._incidents = group_incidents(self.events)
            self._dirty = False
        return self._incidents

    def changes(self) -> list[IncidentChange]:
        """New incidents and count increases since the last call, in incident order."""
        out: list[IncidentChange] = []
        for incident in self.incidents():
            key = incident_key(incident)
            before = self._reported.get(key)
            if before is None:
                out.append(IncidentChange(NEW, incident))
            elif incident.count > before:
                out.append(IncidentChange(COUNT, incident, before))
            self._reported[key] = incident.count
        return out
