"""The report screen: preview, save, and never overwrite a file without asking."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from runbook.tui.screens.report import ReportScreen
from runbook.tui.widgets.confirm_modal import ConfirmModal
from tests.tui.conftest import SIZE, make_app, scanned, screen_text, wait_for

pytestmark = pytest.mark.anyio


async def open_report(pilot, path: Path) -> ReportScreen:
    await scanned(pilot)
    await pilot.press("e")
    screen = pilot.app.screen
    assert isinstance(screen, ReportScreen)
    await wait_for(pilot, lambda: screen.rendered is not None)
    screen.query_one("#report-path", Input).value = str(path)
    screen.query_one("#checklist-path", Input).value = str(path.with_name("checklist.md"))
    return screen


async def test_preview_then_save_then_refuse_to_overwrite_unless_confirmed(
    stale_logs: Path, tmp_path: Path
) -> None:
    target = tmp_path / "out" / "report.md"
    target.parent.mkdir()
    app = make_app([stale_logs])
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_report(pilot, target)
        assert "PGRST204 on members.telegram_handle" in screen_text(app)
        assert "from the logs only" in screen_text(app)

        await pilot.press("ctrl+s")
        saved = target.read_text()
        assert saved == screen.rendered.markdown and saved.startswith("---\n")
        assert "saved" in screen_text(app)

        target.write_text("my own edits\n")
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, ConfirmModal)
        assert str(target) in screen_text(app)
        await pilot.press("n")
        assert target.read_text() == "my own edits\n"  # kept, not silently replaced
        assert "exists and was kept" in screen_text(app)

        await pilot.press("ctrl+s")
        await pilot.press("y")
        assert target.read_text() == screen.rendered.markdown
        assert "replaced" in screen_text(app)


async def test_checklist_is_created_then_left_alone(stale_logs: Path, tmp_path: Path) -> None:
    app = make_app([stale_logs])
    async with app.run_test(size=SIZE) as pilot:
        await open_report(pilot, tmp_path / "report.md")
        await pilot.press("ctrl+k")
        checklist = tmp_path / "checklist.md"
        first = checklist.read_text()
        assert "- [ ]" in first
        await pilot.press("ctrl+k")
        assert checklist.read_text() == first
        assert "unchanged" in screen_text(app)


async def test_an_unwritable_path_is_reported_inline(stale_logs: Path, tmp_path: Path) -> None:
    app = make_app([stale_logs])
    async with app.run_test(size=SIZE) as pilot:
        await open_report(pilot, tmp_path / "no-such-dir" / "report.md")
        await pilot.press("ctrl+s")
        assert "not saved" in screen_text(app)
        assert app.is_running


async def test_the_preview_says_rendering_while_the_report_renders_off_the_ui_thread(
    stale_logs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    import runbook.tui.screens.report as report_module

    release = threading.Event()
    threads: list[str] = []
    real = report_module.render_for

    def slow_render(*args, **kwargs):
        threads.append(threading.current_thread().name)
        assert release.wait(120), "the test never let the report finish"
        return real(*args, **kwargs)

    monkeypatch.setattr(report_module, "render_for", slow_render)
    app = make_app([stale_logs])
    async with app.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        await pilot.press("e")
        screen = app.screen
        assert isinstance(screen, ReportScreen)
        await wait_for(pilot, lambda: threads)
        assert threads[0] != threading.main_thread().name
        await pilot.press("down")  # the UI answers keys while the report renders
        text = screen_text(app)
        assert "rendering the report…" in text and "rendering…" in text
        assert screen.rendered is None
        release.set()
        await wait_for(pilot, lambda: screen.rendered is not None)
        assert "rendering the report…" not in screen_text(app)
