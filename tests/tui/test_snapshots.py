"""Snapshots of the main screens at 120x40 (pytest-textual-snapshot; `--snapshot-update` to
accept a deliberate change after looking at the SVG)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.config import Settings
from tests.tui.conftest import SIZE, make_app, scanned

ROOT = Path(__file__).resolve().parents[2]
RELATIVE = "tests/tui/data/stale_cache"  # relative, so the header reads the same everywhere
SETTINGS = Settings(
    dsn="postgresql://app:s3cr3t@db.internal:5432/app",
    api_url="http://api.internal:3000",
    admin_url="http://api.internal:3001",
    api_key="sb_secret_abcdefghijklmnop",
)


@pytest.fixture(autouse=True)
def in_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    # shown on the settings screen: the same path on every machine (nothing is read there)
    monkeypatch.setenv("PGRST_RUNBOOK_CONFIG", "/home/oncall/.config/pgrst-runbook/config.toml")


def app():
    return make_app([RELATIVE], SETTINGS)


async def ready(pilot) -> None:
    await scanned(pilot)
    for node in pilot.app.screen.query("Input"):
        node.cursor_blink = False


def test_incidents_screen(snap_compare) -> None:
    assert snap_compare(app(), terminal_size=SIZE, run_before=ready)


def test_incidents_second_row_selected(snap_compare) -> None:
    assert snap_compare(app(), press=["down"], terminal_size=SIZE, run_before=ready)


def test_incidents_screen_at_80x24_shows_the_verdicts(snap_compare) -> None:
    assert snap_compare(app(), terminal_size=(80, 24), run_before=ready)


def test_detail_screen_at_80x24_opens_on_the_verdict(snap_compare) -> None:
    assert snap_compare(app(), press=["enter"], terminal_size=(80, 24), run_before=ready)


def test_runbook_screen_at_80x24_shows_the_steps_and_the_next_one(snap_compare) -> None:
    assert snap_compare(app(), press=["r"], terminal_size=(80, 24), run_before=ready)


def test_detail_screen(snap_compare) -> None:
    assert snap_compare(app(), press=["enter"], terminal_size=SIZE, run_before=ready)


def test_runbook_screen_before_any_step(snap_compare) -> None:
    assert snap_compare(app(), press=["r"], terminal_size=SIZE, run_before=ready)


def test_reload_confirmation_shows_the_exact_action(snap_compare) -> None:
    assert snap_compare(app(), press=["r", "ctrl+r"], terminal_size=SIZE, run_before=ready)


def test_settings_screen_masks_secrets(snap_compare) -> None:
    async def before(pilot) -> None:
        await ready(pilot)
        await pilot.press("c")
        for node in pilot.app.screen.query("Input"):
            node.cursor_blink = False

    assert snap_compare(app(), terminal_size=SIZE, run_before=before)


def test_help_screen(snap_compare) -> None:
    assert snap_compare(app(), press=["question_mark"], terminal_size=SIZE, run_before=ready)
