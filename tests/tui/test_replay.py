"""`replay`: recorded time order, scaled waits on an injected clock, capped gaps, stop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from runbook.events import EVENT_SCHEMA
from runbook.incidents.live import IncidentTracker
from runbook.ingest.replay import replay, schedule

T0 = datetime(2026, 11, 18, 9, 15, tzinfo=UTC)


class FakeClock:
    """Time that moves only when replay sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def events(offsets: list[float | None], column: str = "adminname") -> pl.DataFrame:
    rows = [
        {
            "ts": None if off is None else T0 + timedelta(seconds=off),
            "source": "app.log",
            "line_no": i + 1,
            "record_no": i + 1,
            "kind": "schema_cache_error",
            "code": "PGRST204",
            "table": "mypoolr",
            "column": column,
        }
        for i, off in enumerate(offsets)
    ]
    return pl.DataFrame(rows, schema=EVENT_SCHEMA)


def test_events_come_out_at_their_scaled_times() -> None:
    clock = FakeClock()
    seen = []
    for batch in replay(events([120, 0, 60]), speed=60, clock=clock):
        seen.append((clock.now, batch.events["line_no"].to_list(), batch.recorded_at))
    assert [round(t, 6) for t, _, _ in seen] == [0.0, 1.0, 2.0]
    assert [lines for _, lines, _ in seen] == [[2], [3], [1]]
    assert seen[-1][2] == T0 + timedelta(seconds=120)


def test_untimed_events_come_first_and_a_burst_is_one_batch() -> None:
    clock = FakeClock()
    batches = list(replay(events([None, 5, 5, 6]), speed=1, clock=clock))
    assert [b.events.height for b in batches] == [3, 1]
    assert batches[0].events["ts"].to_list()[0] is None
    assert batches[-1].finished and clock.now == pytest.approx(1.0)


def test_long_gaps_are_shortened_to_max_gap() -> None:
    plan = schedule(events([0, 3600, 3610]), speed=10, max_gap=30)
    assert plan["due"].to_list() == pytest.approx([0, 3, 4])


def test_no_sleep_is_longer_than_a_tick_so_stop_is_honoured() -> None:
    clock = FakeClock()
    stopped = {"now": False}

    def stop() -> bool:
        return stopped["now"]

    out = []
    for batch in replay(events([0, 100]), speed=1, clock=clock, stop=stop, tick=0.5):
        out.append(batch)
        stopped["now"] = True
    assert len(out) == 1
    assert max(clock.sleeps, default=0) <= 0.5


def test_speed_must_be_positive() -> None:
    with pytest.raises(ValueError):
        schedule(events([0]), speed=0)


def test_tracker_reports_new_incidents_and_count_changes_once() -> None:
    tracker = IncidentTracker()
    tracker.add(events([0, 1]))
    first = tracker.changes()
    assert [(c.kind, c.incident.count) for c in first] == [("new", 2)]
    assert tracker.changes() == []
    more = events([2, 3, 4])
    tracker.add(more.with_columns(pl.col("line_no") + 10, pl.col("record_no") + 10))
    tracker.add(events([5], column="note").with_columns(pl.lit(99, dtype=pl.Int64).alias("record_no")))
    changes = {(c.kind, c.incident.column): c.added for c in tracker.changes()}
    assert changes == {("count", "adminname"): 3, ("new", "note"): 1}


def test_tracker_keeps_the_time_window() -> None:
    tracker = IncidentTracker(since=T0 + timedelta(seconds=10))
    assert tracker.add(events([0, 20])) == 1
