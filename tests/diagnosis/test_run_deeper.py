"""`run` end to end with the deeper diagnosis: real PostgreSQL, the PostgREST-compatible server.

- no listener: `reload_not_applied` before and after the NOTIFY, never fixed, with the evidence
  (no LISTEN backend, counter unchanged, no load line) and next steps that would work;
- a Supabase-style ledger with one unapplied file: `pending_migration` names it and its commands;
- a rename migration: `client_mismatch` names it and the new key, with an expand/contract plan;
- logs only (database unreachable): the logs' verdict with its confidence;
- recurrence from the journal directory.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.diagnosis.conftest import execute, post_json, run_cli


def flags(dsn: str, server) -> list[str]:
    return ["--dsn", dsn, "--api-url", server.url, "--admin-url", server.admin_url]


@pytest.fixture
def no_listener(db_dsn: str, postgrest):
    """A column added while PostgREST runs without its listener (lost, or db-channel off)."""
    execute(db_dsn, "CREATE TABLE items (id serial PRIMARY KEY, name text)")
    server = postgrest(db_dsn, listener=False)
    server.wait_for_load_count(1)
    execute(db_dsn, "ALTER TABLE items ADD COLUMN note text")
    assert post_json(server.url, "items", {"name": "a", "note": "x"}).json()["code"] == "PGRST204"
    return db_dsn, server


def test_no_listener_is_reload_not_applied_and_never_fixed(
    no_listener, capsys, monkeypatch
) -> None:
    dsn, server = no_listener
    loads = server.load_count()
    result = run_cli(
        capsys, monkeypatch,
        "run", "--table", "items", "--column", "note", *flags(dsn, server),
        "--logs", str(server.stderr_log), "--yes", "--verify-deadline", "2", "--json",
    )  # fmt: skip

    assert result.code == 5, result.err
    out = result.json()
    assert out["verdict"] == "reload_not_applied"
    assert out["fixed"] is False
    assert out["confidence"] == "confirmed"  # the NOTIFY was sent and changed nothing
    steps = {s["name"]: s["status"] for s in out["steps"]}
    assert steps["reload"] == "sent" and steps["verify"] == "failed"
    facts = {e["check"]: e["fact"] for e in out["evidence"]}
    assert facts["a session is listening on channel 'pgrst'"] is False
    assert facts["reload counter moved"] is False
    assert facts["PostgREST logged a cache load after the reload"] is False
    assert facts["PostgREST received the reload message"] is False
    assert facts["column note exists in the database"] is True
    text = " ".join(out["suggestions"])
    for step in ("SIGUSR1", "direct connection", "pg_terminate_backend", "db-channel", "--resume"):
        assert step in text, step
    assert "no session LISTENs on channel 'pgrst'" in out["summary"]
    assert server.load_count() == loads
    # and it still fails: nothing was claimed
    assert post_json(server.url, "items", {"name": "a", "note": "x"}).status_code == 400


def test_no_listener_human_output_says_not_fixed_even_when_declined(
    no_listener, capsys, monkeypatch
) -> None:
    dsn, server = no_listener
    result = run_cli(
        capsys,
        monkeypatch,
        "run",
        "--table",
        "items",
        "--column",
        "note",
        *flags(dsn, server),
    )  # fmt: skip  (no --yes, no terminal: the NOTIFY test is declined)
    assert result.code == 5
    assert "Verdict: reload_not_applied" in result.out
    assert "Confidence: likely" in result.out
    assert "NOT FIXED" in result.out
    assert "sending it tests the reload path" in result.out


def test_a_working_listener_shows_the_load_line_and_then_recurs(
    db_dsn: str, postgrest, capsys, monkeypatch
) -> None:
    execute(db_dsn, "CREATE TABLE items (id serial PRIMARY KEY, name text)")
    server = postgrest(db_dsn)
    server.wait_for_load_count(1)
    execute(db_dsn, "ALTER TABLE items ADD COLUMN note text")
    first = run_cli(
        capsys, monkeypatch,
        "run", "--table", "items", "--column", "note", *flags(db_dsn, server),
        "--logs", str(server.stderr_log), "--yes", "--verify-deadline", "10", "--json",
    )  # fmt: skip
    assert first.code == 0, first.err
    out = first.json()
    assert (out["verdict"], out["fixed"], out["confidence"]) == ("stale_cache", True, "confirmed")
    facts = {e["check"]: e for e in out["evidence"]}
    loaded = facts["PostgREST logged a cache load after the reload"]
    assert loaded["fact"] is True and "postgrest.stderr.log:" in loaded["detail"]
    assert out["recurrence"] == {"earlier": [], "note": None, "same_incident": []}

    execute(db_dsn, "ALTER TABLE items ADD COLUMN note2 text")
    second = run_cli(
        capsys, monkeypatch,
        "run", "--table", "items", "--column", "note2", *flags(db_dsn, server),
        "--yes", "--verify-deadline", "10", "--json",
    )  # fmt: skip
    again = second.json()
    assert again["verdict"] == "stale_cache"
    earlier = again["recurrence"]["earlier"]
    assert [e["session"] for e in earlier] == [out["session"]]
    assert earlier[0]["how"] == "fixed by a reload (notify), verified"
    assert "install-auto-reload" in again["recurrence"]["note"]


LEDGER_SQL = """
CREATE SCHEMA supabase_migrations;
CREATE TABLE supabase_migrations.schema_migrations (version text PRIMARY KEY, name text);
INSERT INTO supabase_migrations.schema_migrations VALUES ('20261101000000', 'init');
"""


def test_supabase_ledger_with_one_unapplied_file_is_pending_migration(
    db_dsn: str, postgrest, capsys, monkeypatch, tmp_path: Path
) -> None:
    migrations = tmp_path / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "20261101000000_init.sql").write_text(
        "create table public.members (id bigint primary key, name text);\n"
    )
    (migrations / "20261120000000_handle.sql").write_text(
        "-- adds the handle\nALTER TABLE public.members\n  ADD COLUMN telegram_handle text;\n"
    )
    execute(db_dsn, (migrations / "20261101000000_init.sql").read_text())
    execute(db_dsn, LEDGER_SQL)
    server = postgrest(db_dsn)
    server.wait_for_load_count(1)
    monkeypatch.chdir(tmp_path)  # --migrations defaults to supabase/migrations here
    result = run_cli(
        capsys, monkeypatch,
        "run", "--table", "members", "--column", "telegram_handle", *flags(db_dsn, server),
        "--yes", "--json",
    )  # fmt: skip
    assert result.code == 5, result.err
    out = result.json()
    assert (out["verdict"], out["confidence"]) == ("pending_migration", "confirmed")
    assert out["suggestions"][0].startswith("Apply ")
    assert "20261120000000_handle.sql:2 (ADD COLUMN)" in out["suggestions"][0]
    assert "supabase db push" in out["suggestions"][0]
    assert "NOTIFY pgrst, 'reload schema';" in out["suggestions"][1]
    assert out["suggestions"][2].startswith("Verify: pgrst-runbook run")
    facts = {e["check"]: e for e in out["evidence"]}
    unrecorded = facts["every migration file is recorded in the ledger"]
    assert unrecorded["fact"] is False and "20261120000000_handle.sql" in unrecorded["detail"]
    assert "reload" not in [s["name"] for s in out["steps"]]


def test_rename_migration_makes_a_client_mismatch_naming_it(
    db_dsn: str, postgrest, capsys, monkeypatch, tmp_path: Path
) -> None:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "001_profiles.sql").write_text(
        'CREATE TABLE profiles (id int PRIMARY KEY, "fullName" text);\n'
    )
    (migrations / "002_rename.sql").write_text(
        'ALTER TABLE ONLY public.profiles RENAME COLUMN "fullName" TO full_name;\n'
    )
    for name in ("001_profiles.sql", "002_rename.sql"):
        execute(db_dsn, (migrations / name).read_text())
    server = postgrest(db_dsn)
    server.wait_for_load_count(1)
    assert post_json(server.url, "profiles", {"id": 1, "fullName": "A"}).status_code == 400
    result = run_cli(
        capsys, monkeypatch,
        "run", "--table", "profiles", "--column", "fullName", *flags(db_dsn, server),
        "--migrations", str(migrations), "--columns", "--yes", "--json",
    )  # fmt: skip
    assert result.code == 5, result.err
    out = result.json()
    assert (out["verdict"], out["confidence"]) == ("client_mismatch", "confirmed")
    assert "002_rename.sql:1 renamed 'fullName' to 'full_name'" in out["summary"]
    assert out["suggestions"][0].startswith("Change the key 'fullName' to 'full_name'")
    plan = next(s for s in out["suggestions"] if "expand/contract" in s)
    assert 'ADD COLUMN "fullName" text' in plan and 'DROP COLUMN "fullName"' in plan
    assert out["columns"] == [
        {"name": "id", "type": "integer"},
        {"name": "full_name", "type": "text"},
    ]
    assert "reload" not in [s["name"] for s in out["steps"]]


def test_logs_alone_decide_when_the_database_cannot_be_reached(capsys, monkeypatch) -> None:
    result = run_cli(
        capsys, monkeypatch,
        "run", "--logs", "sample_logs/mypoolr", "--dsn", "host=127.0.0.1 port=1 user=x",
        "--timeout", "1", "--json",
    )  # fmt: skip
    assert result.code == 5, result.err
    [out] = result.json()
    assert (out["table"], out["column"]) == ("mypoolr", "adminname")
    assert out["verdict"] == "client_mismatch"
    assert out["confidence"] in ("confirmed", "likely")
    assert out["logs"]["verdict"] == "client_mismatch"
    assert out["summary"].startswith("From the logs (")
    assert "Database unreachable" in result.err
    cited = [e for e in out["evidence"] if e["source"] == "logs"]
    assert any("postgrest.log:92" in e["detail"] for e in cited)


def test_from_scan_without_connections_uses_the_document(
    capsys, monkeypatch, tmp_path: Path
) -> None:
    scan = run_cli(capsys, monkeypatch, "scan", "sample_logs/stale-cache", "--format", "json")
    doc = tmp_path / "scan.json"
    doc.write_text(scan.out)
    result = run_cli(
        capsys, monkeypatch,
        "run", "--from-scan", str(doc), "--dsn", "host=127.0.0.1 port=1 user=x", "--timeout", "1",
    )  # fmt: skip
    assert result.code == 5
    assert "Verdict: stale_cache" in result.out
    assert "From the logs alone: stale_cache (confirmed)" in result.out


def test_after_reload_not_applied_a_signal_reload_and_resume_verify_the_fix(
    no_listener, capsys, monkeypatch
) -> None:
    """The next step the run names (SIGUSR1) works, and `--resume` then proves it."""
    dsn, server = no_listener
    first = run_cli(
        capsys, monkeypatch,
        "run", "--table", "items", "--column", "note", *flags(dsn, server),
        "--yes", "--verify-deadline", "1", "--json",
    )  # fmt: skip
    assert first.json()["verdict"] == "reload_not_applied"
    server.reload_signal()
    server.wait_for_load_count(2)
    resumed = run_cli(
        capsys, monkeypatch,
        "run", "--resume", first.json()["session"], *flags(dsn, server),
        "--verify-deadline", "5", "--json",
    )  # fmt: skip
    assert resumed.code == 0, resumed.err
    out = resumed.json()
    assert (out["verdict"], out["fixed"]) == ("stale_cache", True)
    assert post_json(server.url, "items", {"name": "a", "note": "x"}).status_code == 201


def test_a_disabled_supabase_trigger_shows_its_state(no_listener, capsys, monkeypatch) -> None:
    dsn, server = no_listener
    execute(
        dsn,
        "CREATE FUNCTION pgrst_ddl_watch() RETURNS event_trigger LANGUAGE plpgsql AS $$ "
        "BEGIN NOTIFY pgrst, 'reload schema'; END $$; "
        "CREATE EVENT TRIGGER pgrst_ddl_watch ON ddl_command_end EXECUTE PROCEDURE "
        "pgrst_ddl_watch(); ALTER EVENT TRIGGER pgrst_ddl_watch DISABLE;",
    )
    result = run_cli(
        capsys, monkeypatch,
        "run", "--table", "items", "--column", "note", *flags(dsn, server), "--dry-run", "--json",
    )  # fmt: skip
    out = result.json()
    assert out["verdict"] == "reload_not_applied" and out["fixed"] is False
    row = next(e for e in out["evidence"] if e["check"].startswith("auto-reload event triggers"))
    assert row["fact"] is False and "pgrst_ddl_watch (disabled, sends NOTIFY)" in row["detail"]
    assert any("event trigger pgrst_ddl_watch is disabled" in s for s in out["suggestions"])


def test_mypoolr_mismatch_names_the_logged_payload_that_carries_the_key(
    db_dsn: str, postgrest, capsys, monkeypatch
) -> None:
    execute(
        db_dsn,
        "CREATE TABLE mypoolr (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text, "
        "admin_id bigint, contribution_amount numeric)",
    )
    server = postgrest(db_dsn)
    server.wait_for_load_count(1)
    result = run_cli(
        capsys, monkeypatch,
        "run", "--table", "mypoolr", "--column", "adminname", *flags(db_dsn, server),
        "--logs", "sample_logs/mypoolr", "--yes", "--json",
    )  # fmt: skip
    assert result.code == 5, result.err
    out = result.json()
    assert (out["verdict"], out["confidence"]) == ("client_mismatch", "confirmed")
    first = out["suggestions"][0]
    assert first.startswith("Change the key 'adminname' to 'admin_id'")
    assert "POST /mypoolr" in first and "bot.log" in first and "27 failed requests" in first
    assert "bot.log:13: {name, adminname, contribution_amount" in first
    assert out["logs"]["verdict"] == "client_mismatch"
    assert any(e["source"] == "logs" and "postgrest.log:92" in e["detail"] for e in out["evidence"])
