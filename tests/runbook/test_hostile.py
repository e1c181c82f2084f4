"""Bad and hostile input, and broken surroundings: each a clear one-line error, no traceback,
and the journal keeps what was done."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from runbook.config import load_settings
from runbook.evidence import Target
from runbook.steps.session import RunbookSession
from tests.runbook.conftest import execute, journal_entries, post_json, run_cli
from tests.support.pg import free_port

REPO = Path(__file__).resolve().parents[2]

HOSTILE_TABLE = 'Ünï "tab"; DROP TABLE x; --'
# Quotes, backslash-escaped in PostgREST's quoted ?columns= syntax; `%`, which psycopg would
# take for a placeholder in composed SQL with parameters; separators of URLs and of SQL.
HOSTILE_COLUMN = "nö'te\"; DELETE FROM y; -- ✓ ,&?#/ %"
HOSTILE_CHANNEL = 'pg"rst; SELECT 1; --'


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a hung server)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def cli_subprocess(*args: str, env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The real entry point in a child process: what an operator's shell sees."""
    env = {**os.environ, **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "runbook", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def test_hostile_table_column_and_channel_names_survive_the_whole_runbook(
    db_dsn: str, postgrest, capsys, monkeypatch
) -> None:
    execute(
        db_dsn,
        sql.SQL("CREATE TABLE {} (id serial PRIMARY KEY)").format(sql.Identifier(HOSTILE_TABLE)),
    )
    execute(db_dsn, "CREATE TABLE x (id int); CREATE TABLE y (id int); INSERT INTO y VALUES (1)")
    server = postgrest(db_dsn, channel=HOSTILE_CHANNEL)
    server.wait_for_load_count(1)
    execute(
        db_dsn,
        sql.SQL("ALTER TABLE {} ADD COLUMN {} text").format(
            sql.Identifier(HOSTILE_TABLE), sql.Identifier(HOSTILE_COLUMN)
        ),
    )
    assert post_json(server.url, HOSTILE_TABLE, {HOSTILE_COLUMN: "v"}).json()["code"] == "PGRST204"

    result = run_cli(
        capsys, monkeypatch,
        "run", "--table", HOSTILE_TABLE, "--column", HOSTILE_COLUMN, "--dsn", db_dsn,
        "--api-url", server.url, "--admin-url", server.admin_url, "--channel", HOSTILE_CHANNEL,
        "--allow-write-probe", "--yes", "--verify-deadline", "10", "--json",
    )  # fmt: skip

    assert result.code == 0, result.err
    out = result.json()
    assert out["table"] == HOSTILE_TABLE and out["column"] == HOSTILE_COLUMN
    assert out["verdict"] == "stale_cache" and out["fixed"] is True, result.err + result.out
    assert post_json(server.url, HOSTILE_TABLE, {HOSTILE_COLUMN: "v"}).status_code == 201
    with psycopg.connect(db_dsn) as conn:  # nothing injected ran
        assert conn.execute("SELECT count(*) FROM y").fetchone() == (1,)
        assert conn.execute("SELECT to_regclass('public.x') IS NOT NULL").fetchone() == (True,)


def test_hostile_names_that_do_not_exist_are_a_verdict_not_a_crash(
    db_dsn: str, capsys, monkeypatch
) -> None:
    result = run_cli(
        capsys, monkeypatch,
        "run", "--table", "t'; DROP DATABASE x; --", "--column", 'c")', "--dsn", db_dsn, "--json",
    )  # fmt: skip
    assert result.code == 5
    assert result.json()["verdict"] == "table_missing"


def test_database_down_is_one_line_with_no_traceback_and_is_journalled(
    tmp_path: Path,
) -> None:
    port = free_port()
    state = tmp_path / "state"
    proc = cli_subprocess(
        "run", "--table", "items", "--column", "note",
        "--dsn", f"postgresql://app:s3cret-pw@127.0.0.1:{port}/appdb",
        env_extra={"XDG_STATE_HOME": str(state)},
    )  # fmt: skip
    assert proc.returncode == 4
    assert "Traceback" not in proc.stderr
    line = next(x for x in proc.stderr.splitlines() if "Database unreachable" in x)
    assert f"app@127.0.0.1:{port}/appdb" in line
    assert "s3cret-pw" not in proc.stderr + proc.stdout
    entries = journal_entries(state / "pgrst-runbook" / "journals")
    inspect = next(e for e in entries if e["step"] == "inspect")
    assert inspect["status"] == "failed"
    assert inspect["error"]["kind"] == "DatabaseUnreachable"
    assert "s3cret-pw" not in json.dumps(entries)


def test_wrong_password_is_an_auth_error_without_the_password(
    pg_server, db_dsn: str, capsys, monkeypatch
) -> None:
    dsn = pg_server.dsn(user=pg_server.password_role, password="wrong-Pa55word")
    result = run_cli(capsys, monkeypatch, "run", "--table", "t", "--column", "c", "--dsn", dsn)
    assert result.code == 4
    assert "Authentication failed: the database rejected the password for" in result.err
    assert pg_server.password_role in result.err
    assert "wrong-Pa55word" not in result.err + result.out


def test_api_down_says_what_was_and_was_not_established(db_dsn: str, capsys, monkeypatch) -> None:
    execute(db_dsn, "CREATE TABLE items (id int, note text)")
    port = free_port()
    result = run_cli(
        capsys, monkeypatch,
        "run", "--table", "items", "--column", "note", "--dsn", db_dsn,
        "--api-url", f"http://127.0.0.1:{port}", "--json",
    )  # fmt: skip
    assert result.code == 4
    out = result.json()
    assert out["verdict"] == "unknown"
    assert (
        f"API unreachable: cannot reach http://127.0.0.1:{port} (connection refused)" in result.err
    )
    assert "Traceback" not in result.err
    assert out["established"] == ["column note exists in public.items"]
    assert out["not_established"] == ["whether PostgREST's schema cache has the column"]


def test_api_timeout_and_database_connect_timeout_are_one_line_errors(
    black_hole: int, capsys, monkeypatch
) -> None:
    result = run_cli(
        capsys, monkeypatch,
        "run", "--table", "items", "--column", "note", "--timeout", "1",
        "--dsn", f"host=127.0.0.1 port={black_hole} user=u dbname=d sslmode=disable",
        "--api-url", f"http://127.0.0.1:{black_hole}",
    )  # fmt: skip
    assert result.code == 4
    errors = [line for line in result.err.splitlines() if line.startswith("pgrst-runbook:")]
    assert any(f"no answer from the database at u@127.0.0.1:{black_hole}/d" in e for e in errors)
    assert any(f"Timed out: no answer from http://127.0.0.1:{black_hole}" in e for e in errors)
    assert "Traceback" not in result.err


def test_database_stopping_mid_session_keeps_what_was_done(
    pg_server, db_dsn: str, postgrest, isolated_state: Path
) -> None:
    execute(db_dsn, "CREATE TABLE items (id serial PRIMARY KEY, name text)")
    server = postgrest(db_dsn)
    server.wait_for_load_count(1)
    execute(db_dsn, "ALTER TABLE items ADD COLUMN note text")
    settings = load_settings(
        {"dsn": db_dsn, "api_url": server.url, "admin_url": server.admin_url, "connect_timeout": 2}
    )
    session = RunbookSession(Target("items", "note"), settings)
    session.inspect()
    assert session.diagnose().verdict == "stale_cache"
    server.stop()
    pg_server.stop()
    try:
        outcome = session.reload(confirmed=True)
    finally:
        pg_server.start()
    session.close()
    assert outcome.status == "failed"
    assert outcome.error is not None and outcome.error.title == "Database unreachable"
    steps = [(e["step"], e["status"]) for e in journal_entries(isolated_state)]
    assert steps == [
        ("session", "started"),
        ("inspect", "ok"),
        ("diagnose", "ok"),
        ("reload", "intent"),
        ("reload", "failed"),
        ("session", "finished"),
    ]


def test_usage_errors_exit_2(capsys, monkeypatch, tmp_path: Path) -> None:
    assert run_cli(capsys, monkeypatch, "run", "--table", "t").code == 2
    bad = tmp_path / "scan.json"
    bad.write_text("not json")
    result = run_cli(capsys, monkeypatch, "run", "--from-scan", str(bad))
    assert result.code == 2 and "cannot read scan output" in result.err
    result = run_cli(capsys, monkeypatch, "run", "--resume", "../../etc/passwd")
    assert result.code == 2 and "invalid session id" in result.err
    result = run_cli(
        capsys, monkeypatch, "run", "--table", "t", "--column", "c", "--api-url", "localhost:3000"
    )
    assert result.code == 2 and "must start with http://" in result.err


def test_api_key_is_sent_and_a_rejected_key_is_one_line_and_never_echoed(
    db_dsn: str, postgrest, capsys, monkeypatch, isolated_state: Path
) -> None:
    key = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2VydmljZS1rZXktc2ln"
    execute(db_dsn, "CREATE TABLE items (id serial PRIMARY KEY)")
    server = postgrest(db_dsn, require_key=key)
    server.wait_for_load_count(1)
    execute(db_dsn, "ALTER TABLE items ADD COLUMN note text")
    flags = [
        "run",
        "--table",
        "items",
        "--column",
        "note",
        "--dsn",
        db_dsn,
        "--api-url",
        server.url,
    ]

    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", key)
    result = run_cli(capsys, monkeypatch, *flags, "--json")
    assert result.json()["verdict"] == "stale_cache"  # the key from the environment was sent

    wrong = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.d3Jvbmcta2V5LXNpZ25hdHVyZQ"
    result = run_cli(capsys, monkeypatch, *flags, "--api-key", wrong, "--json")
    assert result.code == 4
    assert result.json()["verdict"] == "unknown"
    assert any(
        line.startswith("pgrst-runbook: Authentication failed") for line in result.err.splitlines()
    )
    everything = result.out + result.err + json.dumps(journal_entries(isolated_state))
    assert key not in everything and wrong not in everything
