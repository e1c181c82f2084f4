"""What an operator decides on is on screen whole at 120x40, and the list still reads at 80x24.

The bundled recorded incidents, read from the repository root with a relative path, as an
operator types it: the stale-cache migration file adds two columns at once, and the one the
failures are about is not the last statement of it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.tui.widgets.incident_table import IncidentTable, endpoint_label, short_endpoint
from tests.tui.conftest import make_app, scanned, screen_text

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def in_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


async def test_at_120x40_times_endpoints_and_the_right_migration_are_whole() -> None:
    app = make_app(["sample_logs"])
    async with app.run_test(size=(120, 40)) as pilot:
        await scanned(pilot)
        text = screen_text(app)
        # The migration that adds the failing column (not the later one in the same file),
        # with its time to the second.
        assert (
            "migration before: 2026-10-06 14:02:31Z  "
            "ALTER TABLE public.members ADD COLUMN telegram_handle text"
        ) in text
        assert "telegram_verified_at" not in text
        assert "2026-10-06 14:05:00Z to 14:31:40Z" in text  # the failures' window, whole
        assert "10-06 14:05–14:31" in text
        assert "PATCH /members +1" in text  # whole endpoints
        assert "POST /mypoolr" in text
        assert "PATCH /rest/v1/patients +1" in text  # the room the screen has is used
        assert "…" not in text  # nothing of the list or the summary is cut
        await pilot.press("enter")  # the detail: the logs' evidence names its files whole
        detail = screen_text(app)
        assert "…/postgrest-stderr.log:17" in detail and "…/stale-cache/worker.log:14" in detail


async def test_at_80x24_the_list_shows_table_column_count_and_verdict() -> None:
    app = make_app(["sample_logs"])
    async with app.run_test(size=(80, 24)) as pilot:
        await scanned(pilot)
        lines = screen_text(app).splitlines()
        header = next(line for line in lines if line.split()[:2] == ["table", "column"])
        assert "count" in header and "logs say" in header
        for table, column, count, verdict in (
            ("members", "telegram_handle", "32", "stale cache ✓"),
            ("mypoolr", "adminname", "27", "client mismatch ✓"),
            ("patients", "doseLogs", "16", "client mismatch ✓"),
        ):
            row = next(line for line in lines if line.split()[:1] == [table])
            assert row.split()[1:3] == [column, count] and verdict in row, row
        assert app.main.query_one(IncidentTable).row_count == 3


def test_an_endpoint_is_shortened_from_the_left_and_keeps_its_method() -> None:
    assert short_endpoint("POST /mypoolr", 20) == "POST /mypoolr"
    assert short_endpoint("PATCH /rest/v1/patients", 20) == "PATCH …/v1/patients"
    assert short_endpoint("PATCH /rest/v1/patients", 12).startswith("PATCH …")
    assert endpoint_label(["PATCH /members", "POST /members"], 17) == "PATCH /members +1"
    assert endpoint_label([], 17) == "-"


async def test_the_report_preview_keeps_times_and_steps_whole_at_120x40() -> None:
    """No table cell of the preview is narrower than its longest word (up to the fold
    width): a long path folds across lines, a time or a step name is never cut."""
    from runbook.tui.screens.report import ReportScreen
    from runbook.tui.widgets.report_markdown import FOLD_FROM, _Cell
    from tests.tui.conftest import wait_for

    app = make_app(["sample_logs/stale-cache"])
    async with app.run_test(size=(120, 40)) as pilot:
        await scanned(pilot)
        await pilot.press("r", "i")  # a journal (the database is unreachable): the steps table
        await wait_for(pilot, lambda: not app.screen.running and app.sessions.live, timeout=60)
        await pilot.press("escape", "e")
        report = app.screen
        assert isinstance(report, ReportScreen)
        await wait_for(pilot, lambda: report.rendered is not None)
        await wait_for(pilot, lambda: len(report.query(_Cell)) > 20)
        await pilot.pause()
        cells = list(report.query(_Cell))
        assert any(c.render().plain.startswith("20") and ":" in c.render().plain for c in cells)
        for cell in cells:
            words = cell.render().plain.split()
            need = min(max((len(w) for w in words), default=0), FOLD_FROM)
            assert cell.content_size.width >= need, (cell.render().plain, cell.content_size)
