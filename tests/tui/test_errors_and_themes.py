"""Failures end in an error modal (title, message, next step), and every theme renders."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.config import Settings
from runbook.tui.screens.incidents import IncidentsScreen
from runbook.tui.screens.runbook import RunbookScreen
from runbook.tui.widgets.error_modal import ErrorModal
from tests.tui.conftest import SIZE, STALE, make_app, scanned, screen_text

pytestmark = pytest.mark.anyio


async def test_a_journal_that_cannot_be_written_opens_an_error_modal(tmp_path: Path) -> None:
    a_file = tmp_path / "state"
    a_file.write_text("a file where the state folder should be")
    settings = Settings(
        dsn="host=127.0.0.1 port=1 connect_timeout=1", journal_dir=a_file / "journals"
    )
    app = make_app([STALE], settings)
    async with app.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        await pilot.press("r", "i")
        await pilot.pause()
        assert isinstance(app.screen, ErrorModal)
        assert app.screen.title_text == "Journal problem"
        text = screen_text(app)
        assert "cannot create the journal" in text and "Traceback" not in text
        await pilot.press("escape")
        assert isinstance(app.screen, RunbookScreen)
        assert not app.screen.running  # nothing started, the app goes on


async def test_an_unexpected_exception_is_a_modal_not_a_crash() -> None:
    app = make_app([STALE])
    async with app.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        app.show_error(KeyError("boom"))
        await pilot.pause()
        assert isinstance(app.screen, ErrorModal)
        assert "Unexpected error" in screen_text(app)


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light", "nord", "gruvbox"])
async def test_themes_apply(theme: str) -> None:
    app = make_app([STALE])
    async with app.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        app.theme = theme
        await pilot.pause()
        assert isinstance(app.screen, IncidentsScreen)
        assert "telegram_handle" in screen_text(app)
