"""The journal: one fsynced JSON line per step, redacted, resumable, crash-tolerant."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from runbook.errors import DatabaseUnreachable, JournalError
from runbook.evidence import EvidenceRow
from runbook.steps.journal import Journal, read_entries

KEY = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJlLXNpZw"


def test_entries_have_the_documented_fields_and_are_fsynced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    monkeypatch.setenv("USER", "alice")
    journal = Journal.create(tmp_path)
    before = len(synced)
    entry = journal.append(
        "reload",
        "sent",
        target={"schema": "public", "table": "items", "column": "note"},
        action="NOTIFY \"pgrst\", 'reload schema'",
        result="sent",
        evidence=[EvidenceRow("database", "column note exists", True, "text")],
        verdict="stale_cache",
        data={"loads_before": 1.0},
    )
    assert len(synced) == before + 1
    on_disk = read_entries(journal.path)
    assert on_disk == [entry]
    assert set(entry) >= {
        "v", "ts", "session", "seq", "user", "host", "step", "status", "target", "action",
        "result", "evidence", "verdict", "error", "data",
    }  # fmt: skip
    assert entry["user"] == "alice" and entry["seq"] == 1 and entry["session"] == journal.session
    assert entry["evidence"] == [
        {"source": "database", "check": "column note exists", "fact": True, "detail": "text"}
    ]
    assert journal.path == tmp_path / f"{journal.session}.jsonl"


def test_secrets_never_reach_the_file(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path)
    journal.append(
        "inspect",
        "failed",
        action=f"GET /items?apikey={KEY}",
        error=DatabaseUnreachable("cannot connect to postgresql://app:hunter2-pw@db:5432/app"),
        data={
            "dsn": "postgresql://app:hunter2-pw@db/app",
            "headers": {"Authorization": f"Bearer {KEY}"},
        },
    )
    text = journal.path.read_text()
    assert KEY not in text and "hunter2-pw" not in text
    assert json.loads(text)["error"]["title"] == "Database unreachable"


def test_resume_reads_back_and_continues_numbering(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path, session="20260101T000000Z-abcdef")
    journal.append("session", "started")
    journal.append("inspect", "ok")
    with open(journal.path, "a") as handle:  # a crash mid-write leaves a torn line
        handle.write('{"v": 1, "step": "rel')
    again = Journal.open("20260101T000000Z-abcdef", tmp_path)
    assert [e.step for e in again.entries] == ["session", "inspect"]
    assert again.append("verify", "ok")["seq"] == 3


def test_bad_or_unknown_sessions(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="invalid session id"):
        Journal.open("../../etc/passwd", tmp_path)
    with pytest.raises(JournalError, match="no journal for session"):
        Journal.open("nope", tmp_path)
    Journal.create(tmp_path, session="same")
    with pytest.raises(JournalError, match="already exists"):
        Journal.create(tmp_path, session="same")


def test_an_unwritable_directory_is_a_journal_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(JournalError, match="cannot create the journal"):
        Journal.create(blocker / "journals")


def test_an_entry_after_a_torn_line_starts_on_its_own_line(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path)
    journal.append("session", "started")
    journal.append("inspect", "ok")
    with journal.path.open("a") as f:  # a crash, or a full disk, in the middle of entry 3
        f.write('{"v": 1, "seq": 3, "step": "rel')
    resumed = Journal.open(journal.session, tmp_path)
    resumed.append("reload", "ok")
    entries = read_entries(journal.path)
    assert [e["seq"] for e in entries] == [1, 2, 3]
    assert [e["step"] for e in entries] == ["session", "inspect", "reload"]
    assert journal.path.read_text().count("\n") == 3


def test_a_failed_write_leaves_no_torn_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    journal = Journal.create(tmp_path)
    journal.append("session", "started")
    before = journal.path.read_bytes()

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(JournalError) as err:
        journal.append("inspect", "ok")
    assert "No space left on device" in err.value.message or "no space" in err.value.message.lower()
    assert journal.path.read_bytes() == before
    monkeypatch.undo()
    journal.append("inspect", "ok")
    assert [e["seq"] for e in read_entries(journal.path)] == [1, 2]


def test_a_reload_interrupted_after_its_intent_counts_as_maybe_sent(tmp_path: Path) -> None:
    from runbook.config import Settings
    from runbook.steps.session import RunbookSession
    from runbook.tui.step_state import next_hint, step_states

    target = {"schema": "public", "table": "items", "column": "note"}
    journal = Journal.create(tmp_path)
    journal.append("session", "started", target=target)
    journal.append("diagnose", "ok", target=target, verdict="stale_cache")
    journal.append("reload", "intent", target=target, action="NOTIFY pgrst", data={"loads_before": 2})
    # ... the process died here, before the outcome was written
    settings = Settings(dsn="host=127.0.0.1 port=1 connect_timeout=1", journal_dir=tmp_path)
    session = RunbookSession.resume(journal.session, settings)
    assert session.interrupted_reload and session.reload_pending_verification
    hint = next_hint(step_states(read_entries(journal.path)), None)
    assert "interrupted" in hint and "verify" in hint


def test_one_session_runs_in_one_place_at_a_time(tmp_path: Path) -> None:
    from runbook.config import Settings
    from runbook.steps.session import RunbookSession

    target = {"schema": "public", "table": "items", "column": "note"}
    journal = Journal.create(tmp_path)
    journal.append("session", "started", target=target)
    settings = Settings(dsn="host=127.0.0.1 port=1 connect_timeout=1", journal_dir=tmp_path)
    first = RunbookSession.resume(journal.session, settings)
    with pytest.raises(JournalError) as err:
        RunbookSession.resume(journal.session, settings)  # a second `run --resume` at once
    assert "in use by another run" in err.value.message
    first.release()
    second = RunbookSession.resume(journal.session, settings)
    second.release()
    resumed = [e for e in read_entries(journal.path) if e.get("result") == "resumed"]
    assert len(resumed) == 2  # the refused run wrote nothing


def test_the_typed_reader_reads_what_the_writer_wrote_and_survives_odd_entries(tmp_path) -> None:
    """Every reader of a session goes through `journal_reader`: the entries the writer put
    down come back typed, and an entry from an older or hand-edited file (no target schema,
    a number where text was, evidence that is not a list) reads as absent, not as a crash."""
    import json

    from runbook.steps.journal_reader import read_session, recent_sessions

    journal = Journal.create(tmp_path, session="s-typed")
    journal.append("session", "started", target={"schema": "api", "table": "items", "column": "note"})
    journal.append("diagnose", "ok", verdict="stale_cache", data={"loads_before": 3.0})
    journal.append("reload", "sent", action="NOTIFY pgrst, 'reload schema'")
    journal.append("verify", "failed", verdict="reload_not_applied")
    journal.append("session", "finished", result="not fixed")
    record = read_session(journal.path)
    assert [e.seq for e in record.entries] == [1, 2, 3, 4, 5]
    assert record.target is not None and str(record.target) == "api.items.note"
    assert record.verdict == "reload_not_applied" and record.outcome == "not_fixed"
    assert record.finished and record.fixed is False
    assert record.entries[1].data == {"loads_before": 3.0}
    assert record.entries[2].raw == read_entries(journal.path)[2]  # as written, for JSON edges
    assert record.session_id == "s-typed" and record.started is not None

    odd = tmp_path / "s-odd.jsonl"
    odd.write_text(
        json.dumps({"step": "session", "status": "started", "target": {"table": "t", "column": 5}})
        + "\n"
        + json.dumps({"step": "inspect", "status": "ok", "evidence": "x", "seq": "2", "error": 7})
        + "\n{torn"
    )
    odd_record = read_session(odd)
    assert odd_record.target is not None and str(odd_record.target) == "public.t.5"
    inspect = odd_record.entries[1]
    assert inspect.evidence == () and inspect.seq == 0 and inspect.error is None
    assert [r.session_id for r in recent_sessions(tmp_path)] == ["s-odd", "s-typed"]
