"""End to end, real parts: PostgreSQL, the PostgREST-compatible server, HTTP over loopback.

A migration adds a column without a reload; a write naming it fails with PGRST204; `run` finds
a stale cache, reloads through NOTIFY after consent, proves it, and the same write succeeds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runbook.conftest import execute, journal_entries, post_json, run_cli


@pytest.fixture
def stale(db_dsn: str, postgrest):
    """A server whose cache predates `ALTER TABLE items ADD COLUMN note`."""
    execute(db_dsn, "CREATE TABLE items (id serial PRIMARY KEY, name text)")
    server = postgrest(db_dsn)
    server.wait_for_load_count(1)
    execute(db_dsn, "ALTER TABLE items ADD COLUMN note text")
    failing = post_json(server.url, "items", {"name": "a", "note": "hello"})
    assert failing.status_code == 400
    assert failing.json()["code"] == "PGRST204"
    return db_dsn, server


def _flags(dsn: str, server) -> list[str]:
    return ["--dsn", dsn, "--api-url", server.url, "--admin-url", server.admin_url]


def test_run_reloads_a_stale_cache_after_consent_and_the_write_then_succeeds(
    stale, capsys, monkeypatch, isolated_state: Path
) -> None:
    dsn, server = stale
    loads_before = server.load_count()

    result = run_cli(
        capsys, monkeypatch,
        "run", "--table", "items", "--column", "note", *_flags(dsn, server),
        "--yes", "--allow-write-probe", "--verify-deadline", "10", "--json",
    )  # fmt: skip

    assert result.code == 0, result.err
    out = result.json()
    assert out["verdict"] == "stale_cache"
    assert out["fixed"] is True
    steps = {s["name"]: s["status"] for s in out["steps"]}
    assert steps == {
        "inspect": "ok",
        "write_probe": "ok",
        "diagnose": "ok",
        "reload": "sent",
        "verify": "ok",
    }
    checks = {e["check"]: e["fact"] for e in out["evidence"] if e["source"] == "verify"}
    assert checks["cache has column"] is True
    assert checks["reload counter moved"] is True
    assert checks["write probe"] is True
    assert server.load_count() > loads_before
    assert "note" in server.cache_columns("items")

    assert post_json(server.url, "items", {"name": "a", "note": "hello"}).status_code == 201

    entries = journal_entries(isolated_state)
    reload = [e for e in entries if e["step"] == "reload"]
    assert [e["status"] for e in reload] == ["intent", "sent"]  # journalled before it is sent
    assert reload[0]["seq"] < reload[1]["seq"]
    assert reload[1]["action"] == "NOTIFY \"pgrst\", 'reload schema'"
    assert [e["step"] for e in entries][:2] == ["session", "inspect"]
    assert entries[-1]["step"] == "session" and entries[-1]["result"] == "fixed"


def test_the_write_probe_sees_the_stale_cache_and_writes_nothing(
    stale, capsys, monkeypatch
) -> None:
    dsn, server = stale
    result = run_cli(
        capsys, monkeypatch,
        "run", "--table", "items", "--column", "note", *_flags(dsn, server),
        "--allow-write-probe", "--dry-run", "--json",
    )  # fmt: skip
    assert result.code == 5
    result = run_cli(
        capsys, monkeypatch,
        "run", "--table", "items", "--column", "note", "--dsn", dsn, "--api-url", server.url,
        "--allow-write-probe", "--json",
    )  # fmt: skip
    # --dry-run, then no terminal and no --yes: neither run sent even the rolled-back probe.
    probes = [line for line in server.access_lines() if "columns=note" in line]
    assert probes == []

    from runbook.config import load_settings
    from runbook.servers.api import PostgrestClient

    with PostgrestClient(load_settings({"api_url": server.url})) as client:
        probe = client.write_probe("public", "items", "note")
    assert probe.status == 400 and probe.code == "PGRST204"
    with PostgrestClient(load_settings({"api_url": server.url})) as client:
        read = client.read_probe("public", "items", "note")
    assert read.status == 200  # reads go to the database, which has the column
    execute(dsn, "NOTIFY pgrst, 'reload schema'")
    server.wait_for_load_count(2)
    with PostgrestClient(load_settings({"api_url": server.url})) as client:
        probe = client.write_probe("public", "items", "note")
    assert probe.status == 201 and probe.rolled_back
    import psycopg

    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (0,)


def test_dry_run_changes_nothing(stale, capsys, monkeypatch, isolated_state: Path) -> None:
    dsn, server = stale
    loads_before = server.load_count()

    result = run_cli(
        capsys, monkeypatch,
        "run", "--table", "items", "--column", "note", *_flags(dsn, server),
        "--dry-run", "--yes", "--verify-deadline", "2",
    )  # fmt: skip

    assert result.code == 5
    assert "Verdict: stale_cache" in result.out
    assert "dry run: not run" in result.err or "dry run: not run" in result.out
    assert "NOTIFY \"pgrst\", 'reload schema'" in result.out + result.err
    assert server.load_count() == loads_before
    assert "note" not in server.cache_columns("items")
    reload = [e for e in journal_entries(isolated_state) if e["step"] == "reload"]
    assert [e["status"] for e in reload] == ["dry_run"]


def test_without_a_terminal_and_without_yes_nothing_changes(stale, capsys, monkeypatch) -> None:
    dsn, server = stale
    loads_before = server.load_count()
    result = run_cli(
        capsys, monkeypatch,
        "run", "--table", "items", "--column", "note", *_flags(dsn, server),
    )  # fmt: skip
    assert result.code == 5
    assert "no terminal to ask and no --yes; nothing was changed" in result.out + result.err
    assert server.load_count() == loads_before


def test_on_a_terminal_the_operator_is_asked_and_no_means_no(stale, capsys, monkeypatch) -> None:
    dsn, server = stale
    loads_before = server.load_count()
    result = run_cli(
        capsys, monkeypatch,
        "run", "--table", "items", "--column", "note", *_flags(dsn, server),
        stdin="n\n", tty=True,
    )  # fmt: skip
    assert "run it? [y/N]" in result.out + result.err
    assert result.code == 5
    assert server.load_count() == loads_before

    result = run_cli(
        capsys, monkeypatch,
        "run", "--table", "items", "--column", "note", *_flags(dsn, server),
        "--verify-deadline", "10", stdin="y\n", tty=True,
    )  # fmt: skip
    assert result.code == 0, result.out + result.err
    assert "FIXED (verified)" in result.out


def test_already_resolved_after_the_reload(stale, capsys, monkeypatch) -> None:
    dsn, server = stale
    server.reload_signal()
    server.wait_for_load_count(2)
    result = run_cli(
        capsys, monkeypatch,
        "run", "--table", "items", "--column", "note", *_flags(dsn, server), "--json",
    )  # fmt: skip
    assert result.code == 0
    assert result.json()["verdict"] == "already_resolved"


def test_a_refused_password_is_exit_4_even_when_the_api_looks_resolved(
    stale, pg_server, capsys, monkeypatch
) -> None:
    dsn, server = stale
    server.reload_signal()
    server.wait_for_load_count(2)  # the API's cache has the column: it alone says "resolved"
    wrong = pg_server.dsn(user=pg_server.password_role, password="wrong-Pa55word")
    result = run_cli(
        capsys, monkeypatch,
        "run", "--table", "items", "--column", "note", *_flags(wrong, server), "--json",
    )  # fmt: skip
    assert result.code == 4, result.err
    assert "Authentication failed" in result.err and "wrong-Pa55word" not in result.err + result.out


def test_a_reload_that_does_not_take_is_reported_not_claimed(
    db_dsn: str, postgrest, capsys, monkeypatch
) -> None:
    """No listener (e.g. behind a transaction pooler): the NOTIFY is sent, nothing reloads."""
    execute(db_dsn, "CREATE TABLE items (id serial PRIMARY KEY, name text)")
    server = postgrest(db_dsn, listener=False)
    server.wait_for_load_count(1)
    execute(db_dsn, "ALTER TABLE items ADD COLUMN note text")

    result = run_cli(
        capsys, monkeypatch,
        "run", "--table", "items", "--column", "note", *_flags(db_dsn, server),
        "--yes", "--verify-deadline", "2", "--json",
    )  # fmt: skip

    assert result.code == 5
    out = result.json()
    assert out["verdict"] == "reload_not_applied"
    assert out["fixed"] is False
    checks = {e["check"]: e["fact"] for e in out["evidence"] if e["source"] == "verify"}
    assert checks["reload counter moved"] is False
    assert checks["cache has column"] is False
    listener = [e for e in out["evidence"] if e["check"].startswith("a session is listening")]
    assert listener and listener[0]["fact"] is False
    assert "SIGUSR1" in " ".join(out["suggestions"])


def test_manual_reload_then_resume_verifies(stale, capsys, monkeypatch) -> None:
    dsn, server = stale
    result = run_cli(
        capsys, monkeypatch,
        "run", "--table", "items", "--column", "note", *_flags(dsn, server),
        "--reload-method", "manual", "--json",
    )  # fmt: skip
    assert result.code == 5
    out = result.json()
    assert "docker kill -s SIGUSR1" in result.err
    assert f"--resume {out['session']}" in result.err

    server.reload_signal()  # the operator does it by hand
    server.wait_for_load_count(2)
    result = run_cli(
        capsys, monkeypatch, "run", "--resume", out["session"], *_flags(dsn, server),
        "--verify-deadline", "5", "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    resumed = result.json()
    assert resumed["session"] == out["session"]
    assert resumed["verdict"] == "stale_cache" and resumed["fixed"] is True
    assert [s["name"] for s in resumed["steps"]] == ["verify"]
