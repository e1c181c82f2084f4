"""A log store followed like a file: polled window by window as time passes.

`supabase://<ref>` and `clickhouse+http(s)://...` given to `Follower` (and so to `watch` and
`tui --follow`) become a `StoreTail`, polled every `StoreSettings.poll_seconds` (watch's
`--store-poll`, default 60 s: Supabase answers about 10 queries a minute per project). Its first read covers what `scan` would read (the range
of `--since/--until`, else the last 24 h); each later poll reads `[end of the last read,
now - STORE_LAG)`, with the same queries, the same counting and the same stats as `scan`
(`runbook.ingest.stores.scan_store`). Windows never overlap, so nothing is counted twice.

A store lands lines late (Supabase: up to ~35 s of ingest lag), so the newest `STORE_LAG` is
left for the next poll. A window the store did not answer is read again at the next polls;
after `DARK_RETRIES` polls it is given up, said in a notice and counted in the stats. A store
that cannot be reached at all is said once and polled again; it never ends the follow.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from runbook.errors import RunbookError
from runbook.events import empty_events
from runbook.ingest.scan import ScanOptions
from runbook.ingest.scanner import SourceStats
from runbook.ingest.stores import StoreUnreachable, scan_store, store_range

STORE_LAG = timedelta(seconds=40)  # Supabase's logs land up to ~35 s after they were written
DARK_RETRIES = 3  # polls a window that did not answer is asked again before it is given up


@dataclass(frozen=True)
class StorePosition:
    """How far a store was read: every window before `until` (ISO 8601, UTC) was counted."""

    until: str


class StoreTail:
    """One log store, read to now and then polled; the interface `Follower` asks of a `Tail`."""

    size_at_start = 0  # a store's size is not known: progress counts bytes moved

    def __init__(
        self,
        url: str,
        options: ScanOptions,
        *,
        follow: bool,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.options = options
        self.follow = follow
        self.poll_seconds = options.store.poll_seconds
        self.finished = False
        self.error: str | None = None
        self.bytes_done = 0
        self._monotonic = monotonic
        self._next_poll = 0.0
        self._done_until: datetime | None = None  # windows before this were read
        self._dark_since: datetime | None = None  # the window that did not answer, if any
        self._dark_polls = 0
        self._stats = SourceStats(source=url, format="store")
        self._dark_given_up = 0

    @property
    def name(self) -> str:
        return self.url

    def resume_from(self, position: StorePosition) -> None:
        try:
            self._done_until = datetime.fromisoformat(position.until)
        except (TypeError, ValueError):
            self._done_until = None  # unreadable: read as on a first start

    def position(self) -> StorePosition | None:
        return StorePosition(self._done_until.isoformat()) if self._done_until is not None else None

    def stats(self) -> SourceStats:
        self._stats.error = self.error
        return self._stats

    @property
    def dark_windows_given_up(self) -> int:
        return self._dark_given_up

    def read(self, max_bytes: int, notices: list[str]) -> tuple[pl.DataFrame, bool]:
        """Poll when one is due (else nothing, at the end for now)."""
        if self.finished or self._monotonic() < self._next_poll:
            return empty_events(), True
        self._next_poll = self._monotonic() + self.poll_seconds
        clock = self.options.store.clock
        start, end = store_range(self._done_until or self.options.since, self.options.until, clock)
        if self.follow and self.options.until is None:
            end = min(end, clock.now() - STORE_LAG)
        if self.options.until is not None or not self.follow:
            self.finished = True  # a bounded range is read once
        if end <= start:
            return empty_events(), True
        try:
            events, stats = scan_store(self.url, start, end, self.options.store)
        except StoreUnreachable as exc:
            if self.error != exc.one_line():
                notices.append(f"{self.url}: {exc.one_line()}; polling again")
            self.error = exc.one_line()
            return empty_events(), True
        except RunbookError as exc:  # a malformed URL or source name: no poll will do better
            self.error, self.finished = exc.one_line(), True
            notices.append(f"{self.url}: {self.error}")
            return empty_events(), True
        if self.error is not None:
            notices.append(f"{self.url}: answering again")
        self.error = stats.error
        # A bounded range is read once, as `scan` reads it: what did not answer stays reported.
        self._done_until = end if self.finished else self._advance(start, end, stats, notices)
        self._add(stats)
        if self._done_until < end:  # windows after the one asked again are read with it next time
            events = events.filter(pl.col("ts") < self._done_until)
        return events, True

    def _add(self, stats: SourceStats) -> None:
        """Counters summed over the polls; the store's own stats are those of the last one."""
        s = self._stats
        s.format = stats.format
        s.bytes_read += stats.bytes_read
        s.lines_read += stats.lines_read
        s.candidate_lines += stats.candidate_lines
        s.lines_skipped += stats.lines_skipped
        s.events += stats.events
        self.bytes_done = s.bytes_read
        s.store = {**(stats.store or {}), "dark_windows_given_up": self._dark_given_up}

    def _advance(self, start: datetime, end: datetime, stats: SourceStats, notices: list[str]) -> datetime:
        """Where the next poll starts: the first window that did not answer (asked again up
        to DARK_RETRIES polls), else the end of this one."""
        windows = (stats.store or {}).get("dark_windows")
        dark = [w for w in windows if isinstance(w, dict)] if isinstance(windows, list) else []
        starts = sorted(t for t in (_parse(w.get("start")) for w in dark) if t is not None)
        if not starts:
            self._dark_since, self._dark_polls = None, 0
            return end
        first = max(starts[0], start)
        self._dark_polls = self._dark_polls + 1 if self._dark_since == first else 1
        self._dark_since = first
        if self._dark_polls < DARK_RETRIES:
            return first
        self._dark_given_up += 1
        notices.append(
            f"{self.url}: no answer for the window from {first.isoformat()} after {DARK_RETRIES} "
            "polls; going on without it (counted as a dark window)"
        )
        self._dark_since, self._dark_polls = None, 0
        return end

    def _close(self) -> None:
        """Nothing is held open between polls."""


def _parse(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
