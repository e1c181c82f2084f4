"""Time windows for store queries: at most 24 h, aligned to whole minutes, half-open.

Supabase's logs endpoint answers at most 24 h per query (a longer range is silently cut to its
oldest 24 h) and at most 1000 rows per reply, so a scan range becomes a list of windows, and a
window whose reply hits the row cap is split in two. Windows are aligned to whole minutes so that
one minute of the per-minute series never straddles two windows (one aggregate row per
(table, column, minute)); the scan range itself may start and end anywhere: the exact bounds go
into the SQL as a half-open condition (`clip`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

MINUTE = timedelta(minutes=1)
MAX_SPAN = timedelta(hours=24)


@dataclass(frozen=True, order=True)
class Window:
    """`[start, end)` in UTC; both ends on whole minutes."""

    start: datetime
    end: datetime

    @property
    def span(self) -> timedelta:
        return self.end - self.start

    def split(self) -> tuple[Window, Window] | None:
        """Two halves that meet on a whole minute, or None for a one-minute window."""
        minutes = int(self.span / MINUTE)
        if minutes < 2:
            return None
        middle = self.start + (minutes // 2) * MINUTE
        return Window(self.start, middle), Window(middle, self.end)

    def clip(self, since: datetime, until: datetime) -> tuple[datetime, datetime]:
        """The part of `[since, until)` inside this window: the bounds the SQL repeats."""
        return max(self.start, since), min(self.end, until)

    def label(self) -> str:
        """`2026-11-18 09:00 – 2026-11-19 09:00` (UTC), for progress lines and stats."""
        return f"{self.start:%Y-%m-%d %H:%M} – {self.end:%Y-%m-%d %H:%M}"

    def to_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


def floor_minute(moment: datetime) -> datetime:
    """`moment` with seconds and microseconds dropped."""
    return moment.replace(second=0, microsecond=0)


def ceil_minute(moment: datetime) -> datetime:
    """The first whole minute at or after `moment`."""
    floor = floor_minute(moment)
    return floor if floor == moment else floor + MINUTE


def plan(since: datetime, until: datetime, max_span: timedelta = MAX_SPAN) -> list[Window]:
    """Consecutive minute-aligned windows of at most `max_span` covering `[since, until)`.

    `since` and `until` are aware UTC datetimes; an empty range gives no windows.
    """
    if until <= since:
        return []
    if max_span < MINUTE:
        raise ValueError("a window spans at least one minute")
    step = (max_span // MINUTE) * MINUTE
    start, stop = floor_minute(since), ceil_minute(until)
    windows: list[Window] = []
    while start < stop:
        end = min(start + step, stop)
        windows.append(Window(start, end))
        start = end
    return windows
