"""RunbookSession as the TUI drives it: typed step results, consent, dry run, the journal."""

from __future__ import annotations

from pathlib import Path

from runbook.config import load_settings
from runbook.diagnosis.verdicts import Verdict
from runbook.evidence import Target
from runbook.steps.session import RunbookSession
from tests.runbook.conftest import execute, journal_entries


def test_steps_return_typed_results_and_consent_is_explicit(
    db_dsn: str, postgrest, isolated_state: Path
) -> None:
    execute(db_dsn, "CREATE TABLE items (id serial PRIMARY KEY)")
    server = postgrest(db_dsn)
    server.wait_for_load_count(1)
    execute(db_dsn, "ALTER TABLE items ADD COLUMN note text")
    settings = load_settings(
        {"dsn": db_dsn, "api_url": server.url, "admin_url": server.admin_url, "verify_deadline": 10}
    )
    session = RunbookSession(Target("items", "note"), settings, allow_write_probe=True)

    assert session.inspect().db.column("note") is not None
    plan = session.plan_write_probe()
    assert plan.state_changing and plan.sql_or_http.startswith("POST /items?columns=note")
    assert session.write_probe(confirmed=True).code == "PGRST204"
    assert session.diagnose().verdict is Verdict.STALE_CACHE

    plan = session.plan_reload()
    assert plan.sql_or_http == "NOTIFY \"pgrst\", 'reload schema'" and plan.state_changing
    assert session.reload(confirmed=False).status == "declined"
    assert server.load_count() == 1
    assert session.reload(confirmed=True).sent
    result = session.verify()
    assert result.verified and session.fixed
    session.close()

    statuses = [(e["step"], e["status"]) for e in journal_entries(isolated_state)]
    assert statuses == [
        ("session", "started"),
        ("inspect", "ok"),
        ("write_probe", "ok"),
        ("diagnose", "ok"),
        ("reload", "declined"),
        ("reload", "intent"),
        ("reload", "sent"),
        ("verify", "ok"),
        ("session", "finished"),
    ]
    assert [s.name for s in session.steps] == [
        "inspect", "write_probe", "diagnose", "reload", "reload", "verify",
    ]  # fmt: skip


def test_a_dry_run_session_sends_nothing_even_when_confirmed(
    db_dsn: str, postgrest, isolated_state: Path
) -> None:
    execute(db_dsn, "CREATE TABLE items (id serial PRIMARY KEY)")
    server = postgrest(db_dsn)
    server.wait_for_load_count(1)
    execute(db_dsn, "ALTER TABLE items ADD COLUMN note text")
    settings = load_settings({"dsn": db_dsn, "api_url": server.url, "admin_url": server.admin_url})
    session = RunbookSession(
        Target("items", "note"), settings, dry_run=True, allow_write_probe=True
    )
    session.inspect()
    assert session.write_probe(confirmed=True) is None
    assert session.diagnose().verdict is Verdict.STALE_CACHE
    assert session.reload(confirmed=True).status == "dry_run"
    session.close()
    assert server.load_count() == 1
    assert not [line for line in server.access_lines() if line.split('"')[1].startswith("POST")]
    steps = {(e["step"], e["status"]) for e in journal_entries(isolated_state)}
    assert {("write_probe", "dry_run"), ("reload", "dry_run")} <= steps


def test_interrupting_a_long_verify_stops_its_polling_and_seals_the_journal(
    db_dsn: str, postgrest, isolated_state: Path
) -> None:
    import threading
    import time

    from runbook.steps.journal import JournalSealed

    execute(db_dsn, "CREATE TABLE items (id serial PRIMARY KEY)")
    server = postgrest(db_dsn)
    server.wait_for_load_count(1)
    execute(db_dsn, "ALTER TABLE items ADD COLUMN note text")  # the cache never gets it
    settings = load_settings(
        {"dsn": db_dsn, "api_url": server.url, "admin_url": server.admin_url, "verify_deadline": 300}
    )
    session = RunbookSession(Target("items", "note"), settings)
    outcome: list[BaseException | object] = []

    def verify() -> None:
        try:
            outcome.append(session.verify())
        except JournalSealed as exc:
            outcome.append(exc)

    thread = threading.Thread(target=verify)
    thread.start()
    deadline = time.monotonic() + 60
    while not session.steps and time.monotonic() < deadline:  # verify has begun
        time.sleep(0.05)
    session.interrupt("verify")  # the client stays open: only the cancel can stop the loop
    thread.join(timeout=30)
    assert not thread.is_alive()  # well before its 300 s deadline
    assert isinstance(outcome[0], JournalSealed)
    entries = journal_entries(isolated_state)
    assert entries[-1]["step"] == "verify" and entries[-1]["data"] == {"interrupted": True}
    assert [e["step"] for e in entries].count("verify") == 1
    session.release()
