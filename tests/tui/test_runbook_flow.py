"""The runbook screen against a real PostgreSQL and the PostgREST-compatible test server.

A migration adds `items.note` behind PostgREST's back; writes of it fail with PGRST204 and the
logs say so. In the TUI the operator inspects (stale cache), is asked before the reload with
the exact NOTIFY shown, can decline (nothing happens), confirms, and verifies.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from textual.widgets import Input

from runbook.config import Settings
from runbook.tui.screens.report import ReportScreen
from runbook.tui.screens.runbook import RunbookScreen
from runbook.tui.screens.settings import SettingsScreen
from runbook.tui.step_state import step_states
from runbook.tui.widgets.confirm_modal import ConfirmModal
from runbook.tui.widgets.incident_table import IncidentTable
from tests.runbook.conftest import execute, post_json
from tests.tui.conftest import SIZE, error_lines, make_app, scanned, screen_text, wait_for

pytestmark = pytest.mark.anyio

NOTIFY = "NOTIFY \"pgrst\", 'reload schema'"


@pytest.fixture
def stale(db_dsn: str, postgrest, tmp_path: Path):
    """(settings, server, log): PostgREST's cache predates `ALTER TABLE items ADD COLUMN note`."""
    execute(db_dsn, "CREATE TABLE items (id serial PRIMARY KEY, name text)")
    server = postgrest(db_dsn)
    server.wait_for_load_count(1)
    execute(db_dsn, "ALTER TABLE items ADD COLUMN note text")
    assert post_json(server.url, "items", {"name": "a", "note": "x"}).json()["code"] == "PGRST204"
    log = tmp_path / "app.log"
    log.write_text(error_lines("items", "note", 3))
    settings = Settings(
        dsn=db_dsn, api_url=server.url, admin_url=server.admin_url, verify_deadline=10.0
    )
    return settings, server, log


async def step_done(pilot) -> None:
    screen = pilot.app.screen
    await wait_for(pilot, lambda: not screen.running, timeout=30)
    await pilot.pause()


def states(app) -> dict:
    screen = app.screen
    assert isinstance(screen, RunbookScreen)
    return step_states(screen.sessions.entries(screen.incident))


async def test_inspect_decline_confirm_reload_and_verify(stale) -> None:
    settings, server, log = stale
    app = make_app([log], settings)
    async with app.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        await pilot.press("r")
        await pilot.press("i")
        await step_done(pilot)
        assert states(app)["diagnose"].verdict == "stale_cache"
        assert "press ctrl+r to reload" in screen_text(app)

        loads = server.load_count()
        await pilot.press("ctrl+r")
        modal = app.screen
        assert isinstance(modal, ConfirmModal)
        assert modal.action == NOTIFY
        assert NOTIFY in screen_text(app)
        await pilot.press("n")  # cancel: nothing may change
        await step_done(pilot)
        assert states(app)["reload"].status == "declined"
        assert server.load_count() == loads

        await pilot.press("ctrl+r")
        await pilot.press("y")
        await step_done(pilot)
        assert states(app)["reload"].status == "sent"
        server.wait_for_load_count(loads + 1)

        await pilot.press("v")
        await step_done(pilot)
        verify = states(app)["verify"]
        assert verify.status == "ok", verify
        checks = {row["check"]: row["fact"] for row in verify.evidence}
        assert checks["cache has column"] is True
        assert "verified" in screen_text(app)

        session_id = app.screen.session.journal.session
        await pilot.press("e")  # the report now tells what was done, from the journal
        report = app.screen
        assert isinstance(report, ReportScreen)
        await wait_for(pilot, lambda: report.rendered is not None)
        assert report.rendered.report.session == session_id
        assert "with the runbook journal" in screen_text(app)
        assert NOTIFY in report.rendered.markdown

        await pilot.press("escape", "escape")
        table = app.main.query_one(IncidentTable)
        assert "fixed ✔" in table.get_row_at(0)[4].plain  # the outcome, no longer "stale cache"
    assert post_json(server.url, "items", {"name": "b", "note": "y"}).status_code == 201


async def test_dry_run_records_the_reload_and_runs_nothing(stale) -> None:
    settings, server, log = stale
    app = make_app([log], settings)
    async with app.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        await pilot.press("r", "t")
        loads = server.load_count()
        await pilot.press("ctrl+r")
        assert "dry run: nothing will be run" in screen_text(app)
        await pilot.press("y")
        await step_done(pilot)
        assert states(app)["reload"].status == "dry_run"
        assert server.load_count() == loads


async def test_a_restarted_app_resumes_the_session_from_the_journal(stale) -> None:
    settings, _server, log = stale
    first = make_app([log], settings)
    async with first.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        await pilot.press("r", "i")
        await step_done(pilot)
        session_id = first.screen.session.journal.session

    second = make_app([log], settings)
    async with second.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        await wait_for(pilot, lambda: second.verdicts())  # the journal index is read in a worker
        table = second.main.query_one(IncidentTable)
        assert "stale cache" in table.get_row_at(0)[4].plain
        await pilot.press("r")
        screen = second.screen
        assert screen.session is not None and screen.session.journal.session == session_id
        assert states(second)["inspect"].status == "ok"
        text = screen_text(second)
        assert "(resumed)" in text and "press ctrl+r to reload" in text


async def test_unreachable_database_shows_inline_and_retry_works_after_fixing_settings(
    stale,
) -> None:
    settings, _server, log = stale
    broken = settings.with_overrides(dsn="host=127.0.0.1 port=1 connect_timeout=1", api_url=None, admin_url=None)
    app = make_app([log], broken)
    async with app.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        await pilot.press("r", "i")
        await step_done(pilot)
        inspect = states(app)["inspect"]
        assert inspect.status == "failed"
        text = screen_text(app)
        assert "Database unreachable" in text and "press i to retry" in text

        await pilot.press("c")
        assert isinstance(app.screen, SettingsScreen)
        dsn = app.screen.query_one("#field-dsn", Input)
        dsn.value = settings.dsn
        app.screen.query_one("#field-api_url", Input).value = settings.api_url or ""
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, RunbookScreen)
        await pilot.press("i")
        await step_done(pilot)
        assert states(app)["inspect"].status == "ok"
        assert states(app)["diagnose"].verdict == "stale_cache"


async def test_reload_for_a_client_mismatch_warns_that_it_will_not_help(
    db_dsn: str, postgrest, tmp_path: Path
) -> None:
    execute(db_dsn, "CREATE TABLE mypoolr (id serial PRIMARY KEY, name text, admin_id int)")
    server = postgrest(db_dsn)
    server.wait_for_load_count(1)
    log = tmp_path / "bot.log"
    log.write_text(error_lines("mypoolr", "adminname", 2))
    settings = Settings(dsn=db_dsn, api_url=server.url, admin_url=server.admin_url)
    app = make_app([log], settings)
    async with app.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        await pilot.press("r", "i")
        await step_done(pilot)
        assert states(app)["diagnose"].verdict == "client_mismatch"
        assert "admin_id" in screen_text(app)
        await pilot.press("ctrl+r")
        assert "a reload is not expected to fix this" in screen_text(app)
        await pilot.press("escape")
        await step_done(pilot)
        assert states(app)["reload"].status == "declined"


async def test_leaving_while_a_step_runs_and_coming_back_shows_it_running(stale) -> None:
    settings, _server, log = stale
    # Long enough that verify still runs when the screen is opened again on a loaded machine.
    app = make_app([log], settings.with_overrides(verify_deadline=12.0))
    async with app.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        await pilot.press("r", "v")  # no reload: verify polls until its deadline
        await wait_for(pilot, lambda: app.sessions.running)
        await pilot.press("escape")
        table = app.main.query_one(IncidentTable)
        await wait_for(pilot, lambda: "running…" in table.get_row_at(0)[4].plain)
        await pilot.press("r")
        screen = app.screen
        assert isinstance(screen, RunbookScreen) and screen.running == "verify"
        await pilot.press("i")  # one step at a time: ignored while verify runs
        await wait_for(pilot, lambda: not screen.running, timeout=60)
        await pilot.pause(0.1)
        assert states(app)["verify"].status == "failed"
        assert states(app)["inspect"].status == "not_run"


async def test_quitting_while_a_step_runs_asks_and_journals_the_interruption(stale) -> None:
    settings, _server, log = stale
    app = make_app([log], settings.with_overrides(verify_deadline=120.0))
    async with app.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        await pilot.press("r", "v")  # no reload: verify polls until its (long) deadline
        await wait_for(pilot, lambda: app.sessions.running)
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        assert "Quit while a step runs?" in screen_text(app)
        assert "verify of" in screen_text(app)
        await pilot.press("n")  # stay: the step goes on
        await wait_for(pilot, lambda: isinstance(app.screen, RunbookScreen))
        assert app.is_running and app.sessions.running
        path = app.sessions.journal_path(app.screen.incident)
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running or app.return_code is not None)
    from runbook.steps.journal import read_entries

    entries = read_entries(path)
    verify = step_states(entries)["verify"]
    assert verify.status == "failed" and verify.data.get("interrupted") is True, entries[-1]
    assert "interrupted" in (verify.result or "")


async def test_quitting_during_a_long_verify_stops_its_thread_and_nothing_is_journalled_after(
    stale,
) -> None:
    settings, _server, log = stale
    app = make_app([log], settings.with_overrides(verify_deadline=300.0))
    async with app.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        await pilot.press("r", "v")  # no reload: verify would poll for its whole deadline
        await wait_for(pilot, lambda: app.sessions.running)
        sessions = app.sessions
        path = sessions.journal_path(app.screen.incident)
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        quit_at = time.monotonic()
        await pilot.press("y")
        # The step's thread returns long before verify's deadline: `running` is cleared in
        # its `finally`, so this is the thread ending, not the screen giving up on it.
        await wait_for(pilot, lambda: not sessions.running, timeout=30)
        stopped_after = time.monotonic() - quit_at
    assert stopped_after < 30, stopped_after
    from runbook.steps.journal import read_entries

    entries = read_entries(path)
    interrupted = [i for i, e in enumerate(entries) if (e.get("data") or {}).get("interrupted")]
    assert interrupted and entries[interrupted[0]]["step"] == "verify"
    assert interrupted[-1] == len(entries) - 1, entries[interrupted[-1] + 1 :]  # the last word
    assert [e["step"] for e in entries].count("verify") == 1  # the cut-short poll wrote nothing


async def test_after_finishing_the_reopened_runbook_shows_no_old_results(stale) -> None:
    settings, _server, log = stale
    app = make_app([log], settings)
    async with app.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        await pilot.press("r", "i")
        await step_done(pilot)
        assert states(app)["inspect"].status == "ok"
        await pilot.press("f")
        await wait_for(pilot, lambda: app.screen.session is None)
        await pilot.press("escape", "r")
        screen = app.screen
        assert isinstance(screen, RunbookScreen) and screen.session is None
        shown = step_states(app.sessions.checklist(screen.incident)[0])
        assert shown["inspect"].status == "not_run" and shown["diagnose"].verdict is None
        text = screen_text(app)
        assert "no session yet" in text and "press i to inspect" in text


async def test_a_session_resumed_with_other_settings_hides_the_results_of_the_old_ones(
    stale,
) -> None:
    settings, _server, log = stale
    first = make_app([log], settings)
    async with first.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        await pilot.press("r", "i")
        await step_done(pilot)
        assert states(first)["inspect"].status == "ok"

    other = settings.with_overrides(api_url="http://127.0.0.1:9", admin_url=None)
    second = make_app([log], other)
    async with second.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        await wait_for(pilot, lambda: second.verdicts())
        await pilot.press("r")
        screen = second.screen
        assert isinstance(screen, RunbookScreen) and screen.session is not None
        entries, hidden = second.sessions.checklist(screen.incident)
        assert hidden >= 2  # inspect and diagnose, gathered against the other API
        assert step_states(entries)["inspect"].status == "not_run"
        text = screen_text(second)
        assert "of other connection settings hidden" in text
        assert "press i to inspect" in text
