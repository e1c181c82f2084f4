"""Follow and replay while the app runs: files grow, rotate and truncate under it."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from runbook.commands.replay import stream
from runbook.ingest.scan import ScanOptions
from runbook.tui.messages import FOLLOWING, IngestProgress
from runbook.tui.screens.detail import DetailScreen
from runbook.tui.widgets.incident_table import IncidentTable
from tests.tui.conftest import SIZE, STALE, error_lines, make_app, scanned, screen_text, wait_for

pytestmark = pytest.mark.anyio


def count(app, table: str) -> int:
    return next((i.count for i in app.incidents if i.table == table), 0)


async def test_follow_updates_counts_and_new_incidents_while_keys_still_work(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(error_lines("members", "telegram_handle", 2))
    phases: list[str] = []

    def hook(message) -> None:
        if isinstance(message, IngestProgress):
            phases.append(message.phase)

    app = make_app([log], follow=True)
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await wait_for(pilot, lambda: count(app, "members") == 2)
        await wait_for(pilot, lambda: FOLLOWING in phases)
        assert "following" in screen_text(app)

        with log.open("a") as fh:
            fh.write(error_lines("members", "telegram_handle", 3, start_minute=40))
        await wait_for(pilot, lambda: count(app, "members") == 5)

        await pilot.press("enter")  # keys work while following; the detail follows too
        assert isinstance(app.screen, DetailScreen)
        with log.open("a") as fh:
            fh.write(error_lines("members", "telegram_handle", 1, start_minute=50))
        await wait_for(pilot, lambda: app.screen.incident.count == 6)
        await pilot.press("escape")

        with log.open("a") as fh:
            fh.write(error_lines("mypoolr", "adminname", 1, start_minute=55))
        await wait_for(pilot, lambda: count(app, "mypoolr") == 1)
        assert app.main.query_one(IncidentTable).row_count == 2
        assert app.finished is None  # following never ends by itself

        await pilot.press("escape")  # stop following
        await scanned(pilot)
        assert app.finished.phase == "cancelled"


async def test_follow_survives_rotation_and_truncation_in_the_app(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(error_lines("items", "note", 2))
    app = make_app([log], follow=True)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_for(pilot, lambda: count(app, "items") == 2)
        os.rename(log, tmp_path / "app.log.1")
        log.write_text(error_lines("items", "note", 3, start_minute=40))
        await wait_for(pilot, lambda: count(app, "items") == 5)
        await wait_for(pilot, lambda: any("rotated" in n.message for n in app._notifications))
        with log.open("w") as fh:  # copytruncate
            fh.write(error_lines("items", "note", 1, start_minute=50))
        await wait_for(pilot, lambda: count(app, "items") == 6)
        assert any("truncated" in n.message for n in app._notifications)


async def test_follow_reads_a_pipe_on_stdin(tmp_path: Path) -> None:
    read_fd, write_fd = os.pipe()
    app = make_app(["-"], follow=True, stdin_fd=read_fd)
    async with app.run_test(size=SIZE) as pilot:
        os.write(write_fd, error_lines("items", "note", 2).encode())
        await wait_for(pilot, lambda: count(app, "items") == 2)
        os.write(write_fd, error_lines("items", "note", 1, start_minute=45).encode())
        await wait_for(pilot, lambda: count(app, "items") == 3)
        os.close(write_fd)
        await scanned(pilot)  # the pipe ended: so does reading
        assert app.finished.phase == "done"
    os.close(read_fd)


async def test_replay_fills_the_table_in_recorded_order() -> None:
    counts: list[int] = []
    app = make_app([STALE], replay_speed=100.0, max_gap=5.0)

    def hook(message) -> None:
        incidents = getattr(message, "incidents", None)
        if incidents:
            counts.append(sum(i.count for i in incidents))

    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await wait_for(pilot, lambda: "replaying" in screen_text(app) or app.finished)
        await scanned(pilot)
        assert count(app, "members") == 37 and count(app, "mypoolr") == 4
    assert len(counts) > 2 and counts == sorted(counts)  # it grew, it never went back


def test_headless_replay_prints_the_incident_stream_in_recorded_order() -> None:
    class Clock:
        now = 0.0

        def monotonic(self) -> float:
            return self.now

        def sleep(self, seconds: float) -> None:
            self.now += seconds

    out = io.StringIO()
    clock = Clock()
    code = stream([str(STALE)], ScanOptions(), 60.0, None, out=out, clock=clock)
    lines = out.getvalue().splitlines()
    assert code == 0
    assert lines[0].startswith("replaying 4 file(s)")
    body = lines[1:-1]
    assert body[0].startswith("[2026-11-18 09:00:01Z]")  # PostgREST's startup load first
    migration = next(i for i, line in enumerate(body) if "MIGRATION" in line)
    first_new = next(i for i, line in enumerate(body) if "NEW" in line)
    reload = next(i for i, line in enumerate(body) if "RELOAD" in line)
    assert migration < first_new < reload
    assert "members.telegram_handle" in body[first_new]
    # 97: the access log's successful writes are one counted row among the lines, its 78
    # reads 12 more (one a minute)
    assert lines[-1] == "done: 2 incident(s), 41 failed requests, 97 events"
    assert clock.now == pytest.approx((24 * 60 + 30 - 1) / 60, abs=0.3)  # 09:00:01 -> 09:24:30 at 60x


def test_headless_replay_json_lines(tmp_path: Path) -> None:
    import json

    log = tmp_path / "a.log"
    log.write_text(error_lines("items", "note", 3))
    out = io.StringIO()
    stream([str(log)], ScanOptions(), 1e6, None, as_json=True, out=out)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert records[0]["type"] == "incident" and records[0]["change"] == "new"
    assert records[-1] == {"type": "end", "incidents": 1, "requests": 3, "events": 3, "stopped": False}


async def test_a_new_incident_while_following_gets_a_toast_and_the_bell(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(error_lines("members", "telegram_handle", 2))
    phases: list[str] = []

    def hook(message) -> None:
        if isinstance(message, IngestProgress):
            phases.append(message.phase)

    app = make_app([log], follow=True)
    bells: list[int] = []
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
        await wait_for(pilot, lambda: count(app, "members") == 2)
        await wait_for(pilot, lambda: FOLLOWING in phases and app.announcing)
        assert not bells  # what was there when following began is not news
        with log.open("a") as fh:
            fh.write(error_lines("members", "telegram_handle", 1, start_minute=40))
        await wait_for(pilot, lambda: count(app, "members") == 3)
        assert not bells  # more of a known incident: no bell
        with log.open("a") as fh:
            fh.write(error_lines("mypoolr", "adminname", 1, start_minute=55))
        await wait_for(pilot, lambda: bells)
        toasts = [n.message for n in app._notifications]
        assert any(t.startswith("new incident: mypoolr.adminname") for t in toasts), toasts
        assert len(bells) == 1
        await pilot.press("escape")
        await scanned(pilot)
