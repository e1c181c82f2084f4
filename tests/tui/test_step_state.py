"""The checklist read back from journal entries, and the hint it gives (no Textual)."""

from __future__ import annotations

from runbook.steps.journal_reader import SessionRecord
from runbook.tui.step_state import next_hint, step_states


def entry(step: str, status: str, **extra) -> dict:
    return {"step": step, "status": status, **extra}


def test_latest_entry_of_each_step_wins_and_unrun_steps_say_so() -> None:
    entries = [
        entry("session", "started", target={"table": "items", "column": "note"}),
        entry("inspect", "failed", error={"title": "Database unreachable", "message": "refused"}),
        entry("inspect", "ok", result="9 observations"),
        entry("diagnose", "ok", verdict="stale_cache", evidence=[{"check": "c", "fact": True}]),
    ]
    states = step_states(entries)
    assert states["inspect"].status == "ok" and states["inspect"].error is None
    assert states["diagnose"].verdict == "stale_cache"
    assert states["reload"].status == "not_run" and states["reload"].symbol == "○"
    assert next_hint(states, None).startswith("next: press ctrl+r to reload")


def test_verify_can_revise_the_verdict() -> None:
    entries = [
        entry("diagnose", "ok", verdict="stale_cache"),
        entry("reload", "sent"),
        entry("verify", "failed", verdict="reload_not_applied"),
    ]
    assert SessionRecord.of(entries).verdict == "reload_not_applied"


def test_failed_steps_are_marked_for_retry_and_the_hint_points_at_connections() -> None:
    states = step_states([entry("inspect", "failed")])
    assert states["inspect"].failed and states["inspect"].word == "failed"
    assert "fix the connection" in next_hint(states, None)
    assert next_hint(states, "inspect").startswith("running inspect")


def test_a_finished_session_is_not_resumed() -> None:
    assert SessionRecord.of([entry("session", "started"), entry("session", "finished")]).finished
    assert not SessionRecord.of([entry("session", "started"), entry("session", "info")]).finished


def test_the_outcome_is_the_latest_verify_and_results_keep_to_their_connection() -> None:
    from runbook.tui.step_state import CONNECTION, current_results

    start = {"step": "session", "status": "started", "data": {CONNECTION: "db a"}}
    verify_failed = {"step": "verify", "status": "failed"}
    verify_ok = {"step": "verify", "status": "ok"}
    assert SessionRecord.of([start]).outcome is None
    assert SessionRecord.of([start, verify_failed]).outcome == "not_fixed"
    assert SessionRecord.of([start, verify_failed, verify_ok]).outcome == "fixed"
    other = {"step": "session", "status": "info", "data": {CONNECTION: "db b"}}
    inspect = {"step": "inspect", "status": "ok"}
    kept, hidden = current_results([start, inspect, other, verify_ok], "db b")
    assert hidden == 1 and [e.raw for e in kept] == [start, other, verify_ok]
    kept, hidden = current_results([{"step": "session", "status": "started"}, inspect], "db b")
    assert hidden == 0 and inspect in [e.raw for e in kept]  # an older journal names no connection: kept
