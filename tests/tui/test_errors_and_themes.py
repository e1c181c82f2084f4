"""Failures end in an error modal (title, message, next step), and every theme renders."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.config import Settings
from runbook.tui.preferences import preferences_path
from runbook.tui.screens.incidents import IncidentsScreen
from runbook.tui.screens.runbook import RunbookScreen
from runbook.tui.widgets.confirm_modal import ConfirmModal
from runbook.tui.widgets.error_modal import ErrorModal
from tests.tui.conftest import SIZE, STALE, make_app, scanned, screen_text, wait_for

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


async def test_the_chosen_theme_is_remembered_for_the_next_start() -> None:
    first = make_app([STALE])
    async with first.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        first.theme = "nord"
        await wait_for(pilot, lambda: preferences_path().is_file())
    assert "nord" in preferences_path().read_text()
    second = make_app([STALE])
    async with second.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        assert second.theme == "nord"


async def test_the_config_keys_table_rebinds_the_tui(tmp_path: Path) -> None:
    app = make_app([STALE], Settings(keys=(("runbook", "o"), ("reload", "f5"))))
    async with app.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        await wait_for(pilot, lambda: app._sessions is not None and app._keymap)
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
