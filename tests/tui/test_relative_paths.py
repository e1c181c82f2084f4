"""The TUI shows and reports a relative input as it was given (run from a cwd of its own)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runbook.tui.screens.report import ReportScreen
from tests.tui.conftest import SIZE, make_app, scanned, screen_text, wait_for

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]


async def test_screen_evidence_and_saved_report_keep_a_relative_input_relative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    shutil.copytree(ROOT / "sample_logs" / "stale-cache", work / "logs")
    monkeypatch.chdir(work)
    app = make_app(["logs"])
    async with app.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        shown = screen_text(app)
        assert "logs/app.jsonl" in shown
        await pilot.press("enter")  # the detail: the logs' evidence with file:line
        shown += screen_text(app)
        assert "…/postgres.csv:9" in shown or "logs/postgres.csv:9" in shown
        await pilot.press("escape", "e")
        report = app.screen
        assert isinstance(report, ReportScreen)
        await wait_for(pilot, lambda: report.rendered is not None)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: any(work.glob("incident-*.md")))
    saved = next(work.glob("incident-*.md")).read_text()
    assert "logs/worker.log:14" in saved
    for text in (shown, saved, report.rendered.markdown):
        assert str(work) not in text and str(tmp_path) not in text
