"""An input that could not be read, or whose candidate lines no parser read, is shown where
the incident list is, and stays: an empty list is never an all-clear by accident."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.tui.screens.incidents import IncidentsScreen
from tests.tui.conftest import SIZE, STALE, make_app, scanned, screen_text

pytestmark = pytest.mark.anyio


async def test_an_unreadable_input_is_no_answer_on_the_list(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "x.log"
    app = make_app([missing])
    async with app.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        assert isinstance(app.screen, IncidentsScreen)
        text = screen_text(app)
        assert "no answer" in text and "cannot read" in text and "x.log" in text
        assert "no PGRST204 incidents found" not in text
        await pilot.pause(0.5)  # toasts fade; the list keeps saying it
        assert "no answer" in screen_text(app)


async def test_some_unreadable_inputs_are_not_an_all_clear(tmp_path: Path) -> None:
    quiet = tmp_path / "quiet.log"
    quiet.write_text("2026-11-22 10:00:00,000 INFO app: all good\n")
    app = make_app([quiet, tmp_path / "gone.log"])
    async with app.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        text = screen_text(app)
        assert "not an all-clear" in text and "gone.log" in text


async def test_candidate_lines_no_parser_read_are_counted_on_the_list(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(
        "2026-11-22 10:00:00,000 INFO app: started\n"
        "2026-11-22 10:00:01,000 ERROR app: PGRST2 something unreadable\n"
    )
    app = make_app([log])
    async with app.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        assert "matched no parser" in screen_text(app)


async def test_with_incidents_the_progress_line_names_the_unreadable_input(tmp_path: Path) -> None:
    app = make_app([STALE, tmp_path / "gone.log"])
    async with app.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        text = screen_text(app)
        assert "telegram_handle" in text and "cannot read" in text and "gone.log" in text


def test_long_paths_are_cut_from_the_left_at_a_folder() -> None:
    from runbook.tui.formatting import from_left

    assert from_left("/var/log/apps/community/mypoolr/bot.log", 24) == "…/mypoolr/bot.log"
    assert from_left("short.log", 24) == "short.log"
    assert len(from_left("/x/" + "a" * 80 + ".log", 30)) <= 30


async def test_beside_incidents_skipped_lines_are_said_whole_at_80_columns(tmp_path: Path) -> None:
    odd = tmp_path / "odd.log"
    odd.write_text(
        "2026-11-22 10:00:00,000 INFO app: started\n"
        "2026-11-22 10:00:01,000 ERROR app: PGRST2 something unreadable\n"
    )
    app = make_app([STALE, odd])
    async with app.run_test(size=(80, 24)) as pilot:
        await scanned(pilot)
        assert "1 line skipped: no parser" in screen_text(app)
