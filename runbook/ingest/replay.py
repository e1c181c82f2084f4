"""Replay recorded logs by their own timestamps, N times faster than they happened.

    result = scan_paths(["sample_logs/"])
    for batch in replay(result.events, speed=60):
        tracker.add(batch.events)            # the incidents grow as they did that day

Events are emitted in time order; the wait between two events is their recorded gap divided
by `speed` (gaps longer than `max_gap` recorded seconds are shortened to it, so a night without
errors does not stall a rehearsal). Events without a time come first. The clock is injected:
tests pass one whose `sleep` only advances a counter. No Textual here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import polars as pl

TICK = 0.25  # longest single sleep: `stop()` is checked at least this often


class Clock(Protocol):
    """Where replay gets the time and how it waits."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass
class ReplayBatch:
    """Events whose (scaled) time has come, and how far the replay is."""

    events: pl.DataFrame
    recorded_at: datetime | None  # the recorded time the replay has reached
    done: int  # events emitted so far
    total: int

    @property
    def finished(self) -> bool:
        return self.done >= self.total


def schedule(events: pl.DataFrame, speed: float, max_gap: float | None = None) -> pl.DataFrame:
    """`events` in replay order with a `due` column: seconds after the start to emit each one."""
    if speed <= 0:
        raise ValueError(f"speed must be positive, got {speed}")
    ordered = events.sort(["ts", "source", "line_no"], nulls_last=False)
    gap = pl.col("ts").diff().dt.total_microseconds().fill_null(0) / 1e6
    if max_gap is not None:
        gap = gap.clip(upper_bound=max_gap)
    return ordered.with_columns((gap.cum_sum() / speed).fill_null(0.0).alias("due"))


def replay(
    events: pl.DataFrame,
    speed: float = 1.0,
    *,
    clock: Clock | None = None,
    max_gap: float | None = None,
    stop: Callable[[], bool] = lambda: False,
    tick: float = TICK,
) -> Iterator[ReplayBatch]:
    """Yield the events in batches as their scaled time comes; ends when all are out or `stop()`.

    A batch holds every event due by the time it is cut, so a burst of errors arrives as one
    batch rather than a thousand. Batches carry the `due` column dropped.
    """
    clock = clock or SystemClock()
    plan = schedule(events, speed, max_gap)
    due = plan["due"].to_list()
    times = plan["ts"].to_list()
    plan = plan.drop("due")
    total = plan.height
    start = clock.monotonic()
    done = 0
    while done < total and not stop():
        elapsed = clock.monotonic() - start
        end = done
        while end < total and due[end] <= elapsed:
            end += 1
        if end > done:
            yield ReplayBatch(plan.slice(done, end - done), times[end - 1], end, total)
            done = end
            continue
        clock.sleep(min(due[done] - elapsed, tick))
