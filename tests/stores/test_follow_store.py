"""A log store followed (by `watch`, `tui --follow`): polled window by window, counted once.

The stand-in store is a real ClickHouse engine (chdb) behind both faces; its clock is a fake one
shared with the client, so "an hour later" costs nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from runbook.incidents.grouping import group_incidents
from runbook.ingest.follow import Follower
from runbook.ingest.scan import ScanOptions, scan_paths
from runbook.ingest.store_follow import STORE_LAG, StorePosition, StoreTail
from runbook.watch.state import WatchState
from tests.stores.fixture import SINCE, UNTIL


def counts(events) -> dict[tuple[str, str], int]:
    return {(i.table, i.column): i.count for i in group_incidents(events)}


def poll_to(tail: StoreTail, clock, stop_at, step: timedelta) -> list:
    """Polls as time passes, `step` apart, until the store was read to `stop_at`."""
    import polars as pl

    frames, notices = [], []
    while True:
        events, _ = tail.read(1 << 20, notices)
        frames.append(events)
        if tail.position() and tail.position().until >= (stop_at - STORE_LAG).isoformat():
            return [pl.concat(frames, how="diagonal_relaxed"), notices]
        clock.advance(step.total_seconds())


@pytest.mark.parametrize("face", ["supabase", "clickhouse"])
def test_polls_add_up_to_one_scan_of_the_same_range(face, server, settings, clock, supabase_url, clickhouse_url) -> None:
    url = supabase_url if face == "supabase" else clickhouse_url
    clock.advance(-(clock.now() - (SINCE + timedelta(hours=7))).total_seconds())  # mid-range
    options = ScanOptions(since=SINCE, store=replace(settings, poll_seconds=0.0))
    tail = StoreTail(url, options, follow=True)
    end = UNTIL + timedelta(minutes=5)
    followed, notices = poll_to(tail, clock, end, timedelta(hours=9, minutes=17))
    assert not notices and tail.error is None
    whole = scan_paths([url], ScanOptions(since=SINCE, until=end - STORE_LAG, store=settings))
    assert counts(followed) == counts(whole.events) and counts(whole.events)
    assert tail.stats().events > 0 and tail.bytes_done > 0


def test_the_newest_lines_wait_for_the_next_poll_and_nothing_is_read_twice(server, settings, clock, clickhouse_url) -> None:
    clock.advance(-(clock.now() - UNTIL).total_seconds())
    options = ScanOptions(since=SINCE, store=replace(settings, poll_seconds=0.0))
    tail = StoreTail(clickhouse_url, options, follow=True)
    tail.read(1 << 20, [])
    first = tail.position()
    assert first is not None and first.until == (UNTIL - STORE_LAG).isoformat()
    events, _ = tail.read(1 << 20, [])  # no time has passed: nothing new to ask for
    assert events.height == 0 and tail.position() == first


def test_a_window_that_does_not_answer_is_asked_again_then_given_up(server, settings, clock, supabase_url) -> None:
    clock.advance(-(clock.now() - (UNTIL + timedelta(minutes=5))).total_seconds())
    server.faults.rate_limit = None
    server.faults.dark = (SINCE + timedelta(hours=30), SINCE + timedelta(hours=31))
    options = ScanOptions(since=SINCE, store=replace(settings, poll_seconds=0.0, attempts=1))
    tail = StoreTail(supabase_url, options, follow=True)
    notices: list[str] = []
    tail.read(1 << 20, notices)
    held = tail.position()
    assert held is not None and held.until < (SINCE + timedelta(hours=31)).isoformat()  # asked again
    tail.read(1 << 20, notices)
    assert tail.position() == held and not notices
    tail.read(1 << 20, notices)  # the third poll gives it up
    assert tail.dark_windows_given_up == 1 and any("no answer" in n for n in notices)
    assert tail.position().until > (SINCE + timedelta(hours=31)).isoformat()


def test_an_unreachable_store_is_said_once_and_polled_again(server, settings, clock) -> None:
    dead = "clickhouse+http://nobody@127.0.0.1:9/otel/otel_logs"
    options = ScanOptions(since=SINCE, store=replace(settings, poll_seconds=0.0, attempts=1, timeout=2.0))
    tail = StoreTail(dead, options, follow=True)
    notices: list[str] = []
    for _ in range(3):
        events, at_end = tail.read(1 << 20, notices)
        assert events.height == 0 and at_end
    assert len(notices) == 1 and "polling again" in notices[0] and not tail.finished


def test_a_restart_goes_on_from_the_saved_position(server, settings, clock, clickhouse_url) -> None:
    """The watch state keeps a store's position; a new follower starts where it was."""
    clock.advance(-(clock.now() - (SINCE + timedelta(hours=20))).total_seconds())
    options = ScanOptions(since=SINCE, store=replace(settings, poll_seconds=0.0))
    before = Follower([clickhouse_url], options, follow=True)
    first = before.read(slice_seconds=0.0).events
    saved = WatchState(inputs={clickhouse_url: before.tails[0].position()}).to_dict()
    restored = WatchState.from_dict(json.loads(json.dumps(saved)))
    assert isinstance(restored.inputs[clickhouse_url], StorePosition)

    clock.advance(timedelta(hours=30).total_seconds())
    after = Follower([clickhouse_url], options, follow=True, resume=restored.inputs)
    second = after.read(slice_seconds=0.0).events
    end = clock.now() - STORE_LAG
    whole = scan_paths([clickhouse_url], ScanOptions(since=SINCE, until=end, store=settings)).events
    import polars as pl

    assert counts(pl.concat([first, second], how="diagonal_relaxed")) == counts(whole)


def test_watch_pages_from_a_store(server, settings, clock, clickhouse_url, tmp_path: Path) -> None:
    """`watch clickhouse+http://... --once`: the store's incidents become alerts."""
    import os

    out = tmp_path / "alerts.jsonl"
    env = {**os.environ, "CLICKHOUSE_PASSWORD": settings.clickhouse_password or ""}
    done = subprocess.run(
        [
            sys.executable, "-m", "runbook", "watch", clickhouse_url, "--once",
            "--since", SINCE.isoformat(), "--until", UNTIL.isoformat(),
            "--state", str(tmp_path / "state"),
            "--notify", f"exec:{sys.executable} -c \"import sys; open({str(out)!r}, 'a').write(sys.stdin.read().replace(chr(10), ' ') + chr(10))\"",
        ],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )
    assert done.returncode == 0, done.stderr
    alerts = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    whole = scan_paths([clickhouse_url], ScanOptions(since=SINCE, until=UNTIL, store=settings)).events
    paged = {(a["table"], a["column"]) for a in alerts if a.get("table") and a.get("column")}
    assert paged and paged == set(counts(whole)), (paged, done.stderr)
