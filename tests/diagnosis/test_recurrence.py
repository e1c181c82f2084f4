"""Earlier incidents from the journal directory, and what a repeat means."""

from __future__ import annotations

from pathlib import Path

from runbook.steps.history import earlier_incidents, past_sessions, recurrence_note
from runbook.steps.journal import Journal

ITEMS_NOTE = {"schema": "public", "table": "items", "column": "note"}


def session(
    directory: Path,
    target: dict[str, str],
    verdict: str,
    *,
    reload: str | None = None,
    verified: bool = False,
    fixed: bool = False,
) -> str:
    journal = Journal.create(directory)
    journal.append("session", "started", target=target)
    journal.append("diagnose", "ok", target=target, verdict=verdict)
    if reload:
        journal.append("reload", "sent", target=target, data={"method": reload})
        journal.append("verify", "ok" if verified else "failed", target=target)
    journal.append(
        "session",
        "finished",
        target=target,
        verdict=verdict,
        result="fixed" if fixed else "not fixed",
    )
    return journal.session


def test_sessions_are_read_back_with_verdict_and_how_they_ended(tmp_path: Path) -> None:
    first = session(tmp_path, ITEMS_NOTE, "stale_cache", reload="notify", verified=True, fixed=True)
    session(tmp_path, {**ITEMS_NOTE, "column": "adminname"}, "client_mismatch")
    (tmp_path / "broken.jsonl").write_text("{not json\n")
    (tmp_path / "empty.jsonl").write_text("")
    past = past_sessions(tmp_path)
    assert [p.column for p in past] == ["note", "adminname"]
    assert past[0].session == first
    assert past[0].how == "fixed by a reload (notify), verified" and past[0].fixed is True
    assert "a reload would not fix it" in past[1].how
    assert "stale_cache" in past[0].describe()


def test_same_column_first_and_the_current_session_excluded(tmp_path: Path) -> None:
    session(tmp_path, {**ITEMS_NOTE, "column": "other"}, "client_mismatch")
    older = session(tmp_path, ITEMS_NOTE, "stale_cache", reload="notify", verified=True)
    session(tmp_path, {**ITEMS_NOTE, "table": "orders"}, "stale_cache")
    current = session(tmp_path, ITEMS_NOTE, "stale_cache")
    found = earlier_incidents(
        "public", "items", "note", journal_dir=tmp_path, exclude_session=current
    )
    assert [p.session for p in found][:1] == [older]
    assert [p.column for p in found] == ["note", "other"]
    assert all(p.table == "items" for p in found)


def test_recurring_stale_cache_points_at_auto_reload(tmp_path: Path) -> None:
    session(tmp_path, ITEMS_NOTE, "stale_cache", reload="notify", verified=True)
    past = earlier_incidents("public", "items", "note", journal_dir=tmp_path)
    note = recurrence_note(past, "note", "stale_cache")
    assert note is not None and "install-auto-reload" in note


def test_recurring_mismatch_points_at_a_client_with_the_old_key(tmp_path: Path) -> None:
    session(tmp_path, {**ITEMS_NOTE, "column": "adminname"}, "client_mismatch")
    past = earlier_incidents("public", "items", "adminname", journal_dir=tmp_path)
    note = recurrence_note(past, "adminname", "client_mismatch")
    assert note is not None and "still sends the old key" in note
    assert recurrence_note(past, "adminname", "stale_cache") is None


def test_no_history_no_note(tmp_path: Path) -> None:
    assert earlier_incidents("public", "items", "note", journal_dir=tmp_path / "none") == []
    assert recurrence_note([], "note", "stale_cache") is None
