"""The app driven with Pilot: open, select, detail, filter, help, palette, cancel a scan."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from runbook.tui.messages import CANCELLED, IncidentsChanged, IngestFinished
from runbook.tui.screens.detail import DetailScreen
from runbook.tui.screens.help import HelpScreen
from runbook.tui.screens.incidents import IncidentsScreen
from runbook.tui.screens.runbook import RunbookScreen
from runbook.tui.widgets.confirm_modal import ConfirmModal
from runbook.tui.widgets.incident_table import IncidentTable
from runbook.tui.widgets.timeline import Timeline
from tests.tui.conftest import SIZE, STALE, error_lines, make_app, scanned, screen_text, wait_for

pytestmark = pytest.mark.anyio


async def test_opens_on_the_recorded_incident_sorted_by_count() -> None:
    seen: list[object] = []
    app = make_app([STALE])
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await scanned(pilot)
        assert [(i.table, i.column, i.count) for i in app.incidents] == [
            ("members", "telegram_handle", 37),
            ("mypoolr", "adminname", 4),
        ]
        table = app.main.query_one(IncidentTable)
        assert table.row_count == 2
        assert any(isinstance(m, IncidentsChanged) for m in seen)
        finished = [m for m in seen if isinstance(m, IngestFinished)]
        assert finished and finished[0].phase == "done"
        text = screen_text(app)
        assert "telegram_handle" in text and "read 4 files" in text


async def test_selecting_an_incident_moves_the_timeline_and_enter_opens_detail() -> None:
    app = make_app([STALE])
    async with app.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        screen = app.screen
        assert isinstance(screen, IncidentsScreen)
        assert screen.selected is not None and screen.selected.table == "members"
        timeline = screen.query_one(Timeline)
        marks = {letter for _, letter in timeline.data.markers}
        assert {"M", "R", "L"} <= marks  # the ALTER TABLE, the NOTIFY, the load
        await pilot.press("down")
        assert screen.selected.table == "mypoolr"
        assert {letter for _, letter in timeline.data.markers} == {"R", "L"}
        await pilot.press("up", "enter")
        assert isinstance(app.screen, DetailScreen)
        text = screen_text(app)
        assert "What the logs say" in text and "not inspected yet" in text  # verdicts first
        for _ in range(6):  # page through the rest: endpoints, migrations, reloads, samples
            await pilot.press("pagedown")
            await pilot.pause()
            text += screen_text(app)
        assert "ALTER TABLE public.members ADD COLUMN telegram_handle" in text
        assert "POST /members" in text
        await pilot.press("escape")
        assert isinstance(app.screen, IncidentsScreen)


async def test_filter_narrows_rows_and_escape_clears_it() -> None:
    app = make_app([STALE])
    async with app.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        await pilot.press("slash")
        await pilot.press(*"poolr")
        table = app.main.query_one(IncidentTable)
        assert table.row_count == 1
        assert app.main.selected.table == "mypoolr"
        await pilot.press("escape")
        assert app.main.query_one("#filter", Input).value == ""
        assert table.row_count == 2
        await pilot.press("slash", *"nothing-like-this")
        assert table.row_count == 0
        assert "no incident matches the filter" in screen_text(app)


async def test_r_opens_the_runbook_and_help_opens_and_closes() -> None:
    app = make_app([STALE])
    async with app.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        await pilot.press("r")
        assert isinstance(app.screen, RunbookScreen)
        text = screen_text(app)
        assert "NOTIFY \"pgrst\", 'reload schema'" in text  # what the reload would run, up front
        assert "press i to inspect" in text
        await pilot.press("escape", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "Incidents (the first screen)" in screen_text(app)
        await pilot.press("escape")
        assert isinstance(app.screen, IncidentsScreen)


async def test_palette_offers_only_what_is_valid_now() -> None:
    app = make_app([STALE])
    async with app.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        names = [name for name, _, _ in app.palette_actions(app.screen)]
        assert "Open runbook for members.telegram_handle" in names
        assert "Stop reading" not in names  # the scan is over
        assert "Inspect and diagnose" not in names  # only on the runbook screen
        await pilot.press("r")
        names = [name for name, _, _ in app.palette_actions(app.screen)]
        assert "Inspect and diagnose" in names and "Reload the schema cache…" in names
        await pilot.press("ctrl+p")
        await pilot.press(*"verify")
        await pilot.pause(0.3)
        assert "Verify the fix" in screen_text(app)


async def test_escape_cancels_a_long_scan_and_keeps_what_was_read(tmp_path: Path) -> None:
    big = tmp_path / "big.log"
    noise = "2026-11-18 09:00:00,000 INFO bot: nothing to see here, just a busy log line\n" * 20000
    with big.open("w") as fh:
        fh.write(error_lines("members", "telegram_handle", 5))
        for _ in range(60):  # ~90 MB: far more than one time slice
            fh.write(noise)
    app = make_app([big])
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.incidents)  # rows appear before the scan ends
        assert app.finished is None
        await pilot.press("escape")
        await scanned(pilot)
        assert app.finished.phase == CANCELLED
        assert app.incidents[0].count == 5
        assert "stopped:" in screen_text(app)


async def test_unreadable_and_missing_inputs_are_named_not_fatal(tmp_path: Path) -> None:
    good = tmp_path / "good.log"
    good.write_text(error_lines("items", "note", 2))
    app = make_app([good, tmp_path / "missing.log"])
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await scanned(pilot)
        assert app.incidents[0].table == "items"
        messages = [n.message for n in app._notifications]
        assert any("missing.log" in m and "no such file" in m for m in messages)


async def test_opens_on_sample_logs_with_what_the_logs_say() -> None:
    from runbook.samples import sample_logs_dir

    app = make_app([sample_logs_dir()])
    async with app.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        assert [(i.table, i.count) for i in app.incidents] == [
            ("members", 32),
            ("mypoolr", 27),
            ("patients", 16),
        ]
        table = app.main.query_one(IncidentTable)
        assert table.cursor_row == 0  # the biggest incident, though another was found first
        logs_say = [table.get_row_at(i)[3].plain for i in range(3)]
        assert logs_say == ["stale cache ✓", "client mismatch ✓", "client mismatch ✓"]
        await pilot.press("down", "enter")
        assert isinstance(app.screen, DetailScreen)
        assert app.screen.incident.table == "mypoolr"
        assert app.screen.logs is not None and str(app.screen.logs.verdict) == "client_mismatch"


async def test_the_runbook_copies_the_reload_statement_and_the_real_command() -> None:
    app = make_app([STALE])
    copied: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        app.copy_to_clipboard = copied.append  # type: ignore[method-assign]  # OSC 52 recorded
        await pilot.press("r")
        names = [name for name, _, _ in app.palette_actions(app.screen)]
        assert "Copy the reload statement" in names and "Copy the run command" in names
        assert "Finish the session" in names
        await pilot.press("y")
        await pilot.press("Y")
        await pilot.pause()
        assert copied == [
            "NOTIFY \"pgrst\", 'reload schema';",
            "pgrst-runbook run --table members --column telegram_handle",
        ]
        messages = [n.message for n in app._notifications]  # a notice says what was copied
        assert any(m.startswith("the run command copied (OSC 52)") for m in messages)


async def test_r_r_opens_the_runbook_and_does_not_ask_to_reload() -> None:
    """`r` opens the runbook everywhere; inside it the reload is ctrl+r, so `r r` is harmless."""
    app = make_app([STALE])
    async with app.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        await pilot.press("r", "r")
        await pilot.pause()
        assert isinstance(app.screen, RunbookScreen)
        assert "ctrl+r" in screen_text(app) or "^r" in screen_text(app)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))


async def test_j_k_g_G_move_the_incident_cursor() -> None:
    app = make_app([STALE])
    async with app.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        table = app.main.query_one(IncidentTable)
        table.focus()
        await pilot.press("j")
        await wait_for(pilot, lambda: table.cursor_row == 1)
        assert app.main.selected is not None and app.main.selected.table == "mypoolr"
        await pilot.press("k")
        await wait_for(pilot, lambda: table.cursor_row == 0)
        await pilot.press("G")
        await wait_for(pilot, lambda: table.cursor_row == table.row_count - 1)
        await pilot.press("g")
        await wait_for(pilot, lambda: table.cursor_row == 0)
