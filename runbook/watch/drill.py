"""Drills (`watch --replay PATH... --speed N`): recorded logs drive the real notifier.

The inputs are scanned once and replayed by their own timestamps, N times faster
(`runbook.ingest.replay`), as the batches a follow would read, so the watcher counts, judges
and pages exactly as it would have that day. After the last event the feed stays open for the
quiet period (scaled by the speed), so the rehearsal also sees the incidents resolve.

Every message of a drill says so: the label `drill="true"`, the annotation `drill`, a
`[drill]` prefix on the summary, and fingerprints and PagerDuty dedup keys of that drill's own,
so a drill neither merges with nor resolves a real page (nor an earlier drill's). A drill
starts afresh, keeps its state in a folder of its own and never asks the database or the API
anything (nor reloads).
"""

from __future__ import annotations

import bisect
from datetime import datetime

import polars as pl

from runbook.ingest.follow import FollowBatch, Tail
from runbook.ingest.replay import Clock, SystemClock, schedule
from runbook.ingest.scan import ScanOptions, ScanResult, scan_paths
from runbook.ingest.scanner import SourceStats
from runbook.ingest.sources import InputProblem

LINGER_MARGIN = 2.0  # real seconds kept open past the scaled quiet period


class ReplayFeed:
    """Stands in for `Follower`: `read()` hands out the replayed events whose scaled time has
    come (never waiting: between events it says it is caught up, as a follow would)."""

    def __init__(
        self,
        inputs: list[str],
        options: ScanOptions,
        speed: float,
        *,
        max_gap: float | None = 300.0,
        linger: float = 0.0,
        clock: Clock | None = None,
    ) -> None:
        self.speed = speed
        self.clock = clock or SystemClock()
        self.result: ScanResult = scan_paths(inputs, options)
        self.problems: list[InputProblem] = list(self.result.problems)
        self.tails: list[Tail] = []  # nothing to checkpoint: a drill starts from the first line
        plan = schedule(self.result.events, speed, max_gap)
        self._due: list[float] = plan["due"].to_list()
        self._plan = plan.drop("due")
        self.total = self._plan.height
        self.done = 0
        self.linger = linger
        self._start: float | None = None
        self._ended_at: float | None = None

    def read(self, slice_seconds: float = 0.25) -> FollowBatch:
        """The events due now, in time order; an empty, caught-up batch while none is."""
        now = self.clock.monotonic()
        if self._start is None:
            self._start = now
        if self.done < self.total:
            end = bisect.bisect_right(self._due, now - self._start, lo=self.done)
            if end > self.done:
                events = self._plan.slice(self.done, end - self.done)
                self.done = end
                if self.done >= self.total:
                    self._ended_at = now
                return self._batch(events, caught_up=False)
            return self._batch(self._plan.clear(), caught_up=True)
        if self._ended_at is None:
            self._ended_at = now
        lingering = now - self._ended_at < self.linger
        return self._batch(self._plan.clear(), caught_up=True, finished=not lingering)

    @property
    def started_at(self) -> float | None:
        """The clock's reading when the replay began (None before the first read): an event
        is released at `started_at + due`."""
        return self._start

    def due(self, index: int) -> float:
        """Seconds after the start at which the event at `index` (replay order) is released."""
        return self._due[index]

    @property
    def recorded_at(self) -> datetime | None:
        """The recorded time the replay has reached."""
        if not self.done:
            return None
        ts = self._plan["ts"][self.done - 1]
        return ts if isinstance(ts, datetime) else None

    def _batch(self, events: pl.DataFrame, *, caught_up: bool, finished: bool = False) -> FollowBatch:
        return FollowBatch(events, self.done, self.total, caught_up=caught_up, finished=finished, current="replay")

    def stats(self) -> list[SourceStats]:
        return list(self.result.sources)

    def close(self) -> None:
        pass


def linger_for(resolve_after: float, speed: float) -> float:
    """Real seconds to stay open after the replay so its incidents resolve as they would."""
    return resolve_after / speed + LINGER_MARGIN
