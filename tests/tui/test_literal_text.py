"""Hostile log lines: markup, links, actions and ANSI show as characters and never act.

Names, sample lines and file names come from logs an attacker may write to. Rich/Textual markup
(`[bold]`, `[@click=app.quit]`, `[link=...]`) must be shown literally, escape sequences as
`\\x1b...`, and secrets masked.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.text import Text

from runbook.config import Settings
from runbook.tui.literal import literal
from runbook.tui.screens.detail import DetailScreen
from runbook.tui.widgets.incident_table import IncidentTable
from tests.tui.conftest import SIZE, make_app, scanned, screen_text

pytestmark = pytest.mark.anyio

TABLE = "[bold]pwn[/bold]"
COLUMN = "[@click=app.quit]col"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJlLXNlY3JldA"


def hostile_log(tmp_path: Path) -> Path:
    body = {
        "code": "PGRST204",
        "details": None,
        "hint": None,
        "message": f"Could not find the '{COLUMN}' column of '{TABLE}' in the schema cache",
    }
    line = (
        f"2026-11-18T09:15:01Z error \x1b[31mRED\x1b[0m \x1b]0;owned\x07 [link=https://evil.example]"
        f"click[/link] apikey={JWT} {json.dumps(body)}\n"
    )
    path = tmp_path / "[red]evil.log"
    path.write_text(line * 3)
    return path


def test_literal_never_parses_markup_or_passes_escapes() -> None:
    text = literal("[bold]x[/bold] \x1b[2J [@click=app.quit]y")
    assert isinstance(text, Text)
    assert text.plain == "[bold]x[/bold] \\x1b[2J [@click=app.quit]y"
    assert not text.spans


async def test_hostile_names_and_lines_render_as_characters(tmp_path: Path) -> None:
    log = hostile_log(tmp_path)
    app = make_app([log])
    async with app.run_test(size=(120, 100)) as pilot:  # tall: the whole detail on screen
        await scanned(pilot)
        assert [(i.table, i.column) for i in app.incidents] == [(TABLE, COLUMN)]
        cells = app.main.query_one(IncidentTable).get_row_at(0)
        assert cells[0].plain == TABLE and not cells[0].spans
        assert cells[1].plain == COLUMN
        text = screen_text(app)
        assert TABLE in text and COLUMN in text

        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        text = screen_text(app)
        assert "[link=https://evil.example]click[/link]" in text
        assert "\\x1b[31mRED\\x1b[0m" in text and "\\x1b]0;owned\\x07" in text
        assert "[red]evil.log" in text
        assert JWT not in text and "apikey=***" in text
        assert "\x1b" not in app.export_screenshot()

        # Clicking where the "[@click=app.quit]" text is must not quit the app.
        await pilot.press("escape")
        await pilot.click(IncidentTable, offset=(22, 1))  # on the column name
        await pilot.pause()
        assert app.is_running and app.return_code is None


async def test_hostile_file_names_in_notifications_are_literal(tmp_path: Path) -> None:
    missing = tmp_path / "[@click=app.quit]gone.log"
    app = make_app([missing])
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await scanned(pilot)
        assert any("[@click=app.quit]gone.log" in n.message for n in app._notifications)
        assert all(not n.markup for n in app._notifications)
        assert "[@click=app.quit]gone.log" in screen_text(app)


async def test_secrets_never_show_in_connection_settings(tmp_path: Path) -> None:
    settings = Settings(
        dsn="postgresql://app:s3cr3t-pw@db.internal:5432/app",
        api_url="http://api.internal:3000",
        api_key=JWT,
    )
    app = make_app([tmp_path / "none.log"], settings)
    async with app.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        await pilot.press("c")
        text = screen_text(app)
        assert "s3cr3t-pw" not in text and JWT not in text
        assert "postgresql://app:***@db.internal:5432/app" in text
        await pilot.press("ctrl+s")  # applied unchanged: the real password is kept, not "***"
        assert app.sessions.settings.dsn == settings.dsn
        assert app.sessions.settings.api_key == JWT
