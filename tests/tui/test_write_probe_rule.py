"""One rule for the write probe: the TUI's `w`, `run` and verify decide it the same way.

Without `--allow-write-probe` nothing offers or sends the probe and verify says why; with it,
`w` asks, sends, and verify repeats the probe, also in a session resumed after a restart.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.steps.journal import read_entries
from runbook.steps.write_probe import NOT_CONSENTED, NOT_OPTED_IN, write_probe_rule
from runbook.tui.screens.runbook import RunbookScreen
from runbook.tui.widgets.confirm_modal import ConfirmModal
from tests.runbook.conftest import run_cli
from tests.tui.conftest import SIZE, make_app, scanned, screen_text, wait_for
from tests.tui.test_runbook_flow import stale, states, step_done

pytestmark = pytest.mark.anyio
__all__ = ["stale"]  # the fixture, shared with the runbook flow tests


def posts(server) -> list[str]:
    """The write probes the server received (the fixture's own failing write names no column)."""
    return [line for line in server.access_lines() if "POST /items?columns=" in line]


def verify_check(entries: list[dict], name: str) -> dict:
    verify = [e for e in entries if e.get("step") == "verify"][-1]
    return next(row for row in verify["evidence"] if row["check"] == name)


def test_the_rule_says_why_not_in_one_place() -> None:
    assert write_probe_rule(opted_in=False, has_api=True, consented=True).reason == NOT_OPTED_IN
    assert not write_probe_rule(opted_in=True, has_api=False, consented=True).may_offer
    asked = write_probe_rule(opted_in=True, has_api=True, consented=False)
    assert asked.may_offer and not asked.may_send and asked.reason == NOT_CONSENTED
    assert write_probe_rule(opted_in=True, has_api=True, consented=True).may_send


async def test_without_the_opt_in_w_sends_nothing_and_verify_says_the_same(stale) -> None:
    settings, server, log = stale
    app = make_app([log], settings.with_overrides(verify_deadline=3.0))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await scanned(pilot)
        await pilot.press("r")
        assert f"nothing: {NOT_OPTED_IN}" in screen_text(app)
        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, RunbookScreen)  # no question: there is nothing to ask
        assert any(NOT_OPTED_IN in n.message for n in app._notifications)
        await pilot.press("v")
        await step_done(pilot)
        path = app.sessions.journal_path(app.screen.incident)
    entries = read_entries(path)
    assert not [e for e in entries if e.get("step") == "write_probe"]
    check = verify_check(entries, "write probe")
    assert check["fact"] is None, check  # not checked
    assert NOT_OPTED_IN in check["detail"]
    assert not posts(server)


async def test_with_the_opt_in_w_asks_sends_and_verify_repeats_it_after_a_restart(stale) -> None:
    settings, server, log = stale
    settings = settings.with_overrides(verify_deadline=10.0)
    app = make_app([log], settings, allow_write_probe=True)
    async with app.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        await pilot.press("r", "w")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        assert "POST /items?columns=note" in screen_text(app)
        await pilot.press("y")
        await step_done(pilot)
        assert states(app)["write_probe"].status == "ok"
        assert "PGRST204" in (states(app)["write_probe"].result or "")
        await pilot.press("i")
        await step_done(pilot)
        await pilot.press("ctrl+r", "y")
        await step_done(pilot)
        path = app.sessions.journal_path(app.screen.incident)
    sent_before_restart = len(posts(server))
    assert sent_before_restart == 1

    again = make_app([log], settings, allow_write_probe=True)  # resumes the unfinished session
    async with again.run_test(size=SIZE) as pilot:
        await scanned(pilot)
        await pilot.press("r", "v")
        await step_done(pilot)
    check = verify_check(read_entries(path), "write probe")
    assert check["fact"] is True, check  # repeated on the consent journalled before the restart
    assert len(posts(server)) == sent_before_restart + 1


def test_run_follows_the_same_rule(stale, capsys, monkeypatch) -> None:
    settings, server, _log = stale
    result = run_cli(
        capsys, monkeypatch,
        "run", "--table", "items", "--column", "note", "--dsn", settings.dsn,
        "--api-url", settings.api_url, "--admin-url", settings.admin_url,
        "--verify-deadline", "3", "--yes", "--json",
    )  # fmt: skip
    summary = result.json()
    assert "write_probe" not in [s["name"] for s in summary["steps"]]
    check = verify_check(read_entries(Path(summary["journal"])), "write probe")
    assert check["fact"] is None and NOT_OPTED_IN in check["detail"]
    assert not posts(server)
