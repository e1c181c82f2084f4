"""Earlier incidents from the journal directory, and what a repeat means."""

from __future__ import annotations

from pathlib import Path

from runbook.steps.history import earlier_incidents, past_sessions, recurrence_note, same_incident
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


def dated(directory: Path, target: dict[str, str], verdict: str, window: tuple[str, str] | None) -> str:
    """A finished session that journalled the incident window it was run on."""
    journal = Journal.create(directory)
    data = {"incident_window": {"first_seen": window[0], "last_seen": window[1]}} if window else {}
    journal.append("session", "started", target=target, data=data)
    journal.append("diagnose", "ok", target=target, verdict=verdict, data=data)
    journal.append("session", "finished", target=target, verdict=verdict, result="not fixed")
    return journal.session


def test_a_session_whose_window_overlaps_is_the_same_incident(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    rerun = dated(tmp_path, ITEMS_NOTE, "stale_cache", ("2026-10-06T14:05:00+00:00", "2026-10-06T14:20:00+00:00"))
    before = dated(tmp_path, ITEMS_NOTE, "stale_cache", ("2026-09-01T08:00:00+00:00", "2026-09-01T08:30:00+00:00"))
    other_column = dated(tmp_path, {**ITEMS_NOTE, "column": "body"}, "stale_cache", ("2026-10-06T14:05:00+00:00", "2026-10-06T14:31:00+00:00"))
    current = (datetime(2026, 10, 6, 14, 5, tzinfo=UTC), datetime(2026, 10, 6, 14, 31, tzinfo=UTC))
    past = {p.session: p for p in past_sessions(tmp_path)}
    assert same_incident(past[rerun], "public", "items", "note", current)
    assert not same_incident(past[before], "public", "items", "note", current)
    assert not same_incident(past[other_column], "public", "items", "note", current)  # another column
    # A session that journalled no window (run without logs) ran during the incident: the same.
    live = Journal.create(tmp_path)
    live.append("session", "started", target=ITEMS_NOTE)
    [untimed] = [p for p in past_sessions(tmp_path) if p.session == live.session]
    now = datetime.now(UTC)
    assert same_incident(untimed, "public", "items", "note", (current[0], now))
    assert not same_incident(untimed, "public", "items", "note", current)


def test_rerunning_the_runbook_on_the_same_logs_is_not_a_recurrence(
    tmp_path: Path, isolated_state: Path, capsys, monkeypatch
) -> None:
    """Three runs on the recorded stale-cache incident, then one earlier incident of the same
    column on record: only that one recurs."""
    from tests.runbook.conftest import run_cli

    args = [
        "run", "--logs", "sample_logs/stale-cache", "--table", "members",
        "--column", "telegram_handle", "--dsn", "host=127.0.0.1 port=1 user=x",
        "--timeout", "1", "--json",
    ]  # fmt: skip
    runs = [run_cli(capsys, monkeypatch, *args).json() for _ in range(3)]
    assert [r["verdict"] for r in runs] == ["stale_cache"] * 3  # from the logs alone
    last = runs[-1]["recurrence"]
    assert last["earlier"] == [] and last["note"] is None
    assert [p["session"] for p in last["same_incident"]] == [r["session"] for r in runs[:2]]
    assert last["same_incident"][0]["window"]["first_seen"] == "2026-10-06T14:05:00.516000+00:00"

    members = {"schema": "public", "table": "members", "column": "telegram_handle"}
    earlier = dated(isolated_state, members, "stale_cache", ("2026-09-01T08:00:00+00:00", "2026-09-01T08:30:00+00:00"))
    again = run_cli(capsys, monkeypatch, *args).json()["recurrence"]
    assert [p["session"] for p in again["earlier"]] == [earlier]
    assert "Recurring stale cache (1 earlier" in again["note"]
    assert len(again["same_incident"]) == 3
