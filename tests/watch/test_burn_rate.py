"""The multiwindow multi-burn-rate page on a fake clock, over per-minute (writes, failed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import polars as pl
import pytest

from runbook.events import EVENT_SCHEMA
from runbook.ingest.follow import FollowBatch
from runbook.watch.burn_rate import BurnRate
from runbook.watch.watcher import Watcher, WatchOptions

T0 = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)


def steady(burn: BurnRate, minutes: range, writes: int, failed: int) -> None:
    for m in minutes:
        burn.add((T0 + timedelta(minutes=m)).timestamp(), writes, failed)


def at(minute: float) -> float:
    return (T0 + timedelta(minutes=minute)).timestamp()


def test_a_fast_burn_pages_on_the_1h_5m_pair_and_resets_soon_after() -> None:
    burn = BurnRate(slo=0.999, min_requests=100)
    steady(burn, range(0, 60), 100, 0)  # an hour of healthy traffic
    steady(burn, range(60, 70), 100, 10)  # 10% failing: 100x the 0.1% budget
    # 1h: 100 of 6000 failed (16.7x), 5m: 50 of 500 (100x); 6h/30m: 14.3x and 33x
    assert [b.pair.name for b in burn.firing(at(69))] == ["1h/5m", "6h/30m"]
    steady(burn, range(70, 100), 100, 0)  # errors stop: the 5m window clears first
    assert [b.pair.name for b in burn.firing(at(75))] == ["6h/30m"]
    assert burn.firing(at(99)) == []  # and the 30m one half an hour later


def test_the_6h_30m_pair_catches_a_slow_burn_the_fast_pair_misses() -> None:
    burn = BurnRate(slo=0.999, min_requests=100)
    steady(burn, range(0, 360), 100, 1)  # 1% failing: 10x the budget, for 6 hours
    names = [b.pair.name for b in burn.firing(at(359))]
    assert names == ["6h/30m"]  # 10x is under 14.4x, over 6x


def test_both_windows_of_a_pair_must_burn() -> None:
    burn = BurnRate(slo=0.999, min_requests=100)
    steady(burn, range(0, 60), 100, 0)
    steady(burn, range(60, 61), 100, 50)  # one bad minute: 5m burns 100x, 1h only 8.3x
    readings = {b.pair.name: b for b in burn.evaluate(at(60))}
    assert readings["1h/5m"].short_rate > 14.4 > readings["1h/5m"].long_rate
    assert not readings["1h/5m"].firing


def test_low_traffic_is_not_judged() -> None:
    burn = BurnRate(slo=0.999, min_requests=100)
    steady(burn, range(0, 60), 1, 1)  # 60 writes an hour, all failing
    assert burn.firing(at(59)) == []
    burn = BurnRate(slo=0.999, min_requests=50)
    burn.add(at(0), 1, 0)  # the inputs count successful writes too
    steady(burn, range(0, 60), 1, 1)
    assert [b.pair.name for b in burn.firing(at(59))] == ["1h/5m", "6h/30m"]


def test_old_minutes_are_forgotten() -> None:
    burn = BurnRate()
    steady(burn, range(0, 1000), 1, 0)
    assert len(burn._minutes) <= 361


def test_bad_slo() -> None:
    with pytest.raises(ValueError):
        BurnRate(slo=1.0)


def access(minute: float, method: str, status: int) -> dict:
    return {**dict.fromkeys(EVENT_SCHEMA), "ts": T0 + timedelta(minutes=minute), "kind": "access",
            "method": method, "path": "/members", "status": status}


def batch(rows: list[dict]) -> FollowBatch:
    return FollowBatch(pl.DataFrame(rows, schema=EVENT_SCHEMA), 0, 0, caught_up=True, finished=False)


def test_the_watcher_counts_writes_by_class_and_pages_then_resolves(tmp_path: Path) -> None:
    clock = {"now": at(0)}
    options = WatchOptions(inputs=[], sinks=[], state_dir=tmp_path, once=True, burn_min_requests=20)
    watcher = Watcher(options, log=StringIO(), wall=lambda: clock["now"])
    rows = [access(m, "POST", 201) for m in range(0, 60) for _ in range(2)]
    rows += [access(m, "POST", 400) for m in range(60, 65) for _ in range(2)]
    rows += [access(m, "GET", 500) for m in range(0, 65)]  # reads are not writes
    watcher.step(batch(rows))
    state = [s for s in watcher.state.incidents.values() if s.kind == "burn_rate"]
    assert state and state[0].status == "firing"
    text = watcher.metrics.exposition().decode()
    assert 'pgrst_runbook_write_requests_total{status_class="2xx"} 120.0' in text
    assert 'pgrst_runbook_write_requests_total{status_class="4xx"} 10.0' in text
    assert "5xx" not in text
    calm = [access(m, "PATCH", 204) for m in range(65, 71) for _ in range(2)]
    watcher.step(batch(calm))
    assert state[0].status == "firing"  # the 6h/30m pair still burns
    calm = [access(m, "PATCH", 204) for m in range(71, 96) for _ in range(2)]
    watcher.step(batch(calm))
    assert state[0].status == "resolved"
    assert state[0].seq == 2  # one page, one resolve


def test_only_failed_writes_in_the_inputs_are_no_error_rate() -> None:
    """An access log read for its 400s alone holds no denominator: 100% by construction is not
    judged, until the inputs show a write that succeeded."""
    burn = BurnRate(slo=0.999, min_requests=100)
    for minute in range(60):
        burn.add(minute * 60.0, writes=5, failed=5)
    now = 59 * 60.0
    assert not burn.judged and burn.firing(now) == []
    burn.add(now, writes=1, failed=0)
    assert burn.judged and burn.firing(now)
