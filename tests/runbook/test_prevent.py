"""Prevention on a real PostgreSQL: the auto-reload trigger, and the drift check for CI."""

from __future__ import annotations

import psycopg
from psycopg import sql

from runbook.config import load_settings
from runbook.steps.prevent import (
    apply_script,
    auto_reload_triggers,
    install_script,
    script_text,
    uninstall_script,
)
from tests.runbook.conftest import execute, run_cli


def test_install_is_idempotent_and_ddl_then_notifies(db_dsn: str) -> None:
    settings = load_settings({"dsn": db_dsn, "channel": 'my "chan"'})
    apply_script(settings, install_script(settings.channel))
    apply_script(settings, install_script(settings.channel))  # again: no error, still one
    assert [t.name for t in auto_reload_triggers(settings)] == ["pgrst_watch"]
    with psycopg.connect(db_dsn, autocommit=True) as listener:
        listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier('my "chan"')))
        execute(db_dsn, "CREATE TABLE t (id int)")
        got = [(n.channel, n.payload) for n in listener.notifies(timeout=2, stop_after=1)]
    assert got == [('my "chan"', "reload schema")]
    apply_script(settings, uninstall_script())
    apply_script(settings, uninstall_script())
    assert auto_reload_triggers(settings) == []


def test_dry_run_prints_the_sql_and_installs_nothing(db_dsn: str, capsys, monkeypatch) -> None:
    result = run_cli(capsys, monkeypatch, "install-auto-reload", "--dsn", db_dsn, "--dry-run")
    assert result.code == 0
    assert result.out == script_text(install_script("pgrst"))
    assert 'CREATE EVENT TRIGGER "pgrst_watch" ON ddl_command_end' in result.out
    assert "NOTIFY \"pgrst\", 'reload schema';" in result.out
    assert auto_reload_triggers(load_settings({"dsn": db_dsn})) == []


def test_install_without_consent_changes_nothing_and_with_yes_installs(
    db_dsn: str, capsys, monkeypatch
) -> None:
    settings = load_settings({"dsn": db_dsn})
    result = run_cli(capsys, monkeypatch, "install-auto-reload", "--dsn", db_dsn)
    assert result.code == 5 and auto_reload_triggers(settings) == []
    result = run_cli(capsys, monkeypatch, "install-auto-reload", "--dsn", db_dsn, "--yes")
    assert result.code == 0 and [t.name for t in auto_reload_triggers(settings)] == ["pgrst_watch"]
    result = run_cli(
        capsys, monkeypatch, "install-auto-reload", "--dsn", db_dsn, "--uninstall", "--yes"
    )
    assert result.code == 0 and auto_reload_triggers(settings) == []


def test_install_needs_a_superuser_and_says_so(pg_server, db_dsn: str, capsys, monkeypatch) -> None:
    dsn = pg_server.dsn(
        db_dsn.rsplit("/", 1)[1], user=pg_server.password_role, password=pg_server.password
    )
    result = run_cli(capsys, monkeypatch, "install-auto-reload", "--dsn", dsn, "--yes")
    assert result.code == 5
    assert "Permission denied" in result.err and "Traceback" not in result.err


def test_check_exits_1_on_drift_and_0_after_a_reload(
    db_dsn: str, postgrest, capsys, monkeypatch
) -> None:
    execute(db_dsn, "CREATE TABLE items (id int, name text); CREATE VIEW v AS SELECT 1 AS one")
    server = postgrest(db_dsn)
    server.wait_for_load_count(1)
    flags = ["--dsn", db_dsn, "--admin-url", server.admin_url, "--api-url", server.url]
    assert run_cli(capsys, monkeypatch, "check", *flags).code == 0

    execute(
        db_dsn,
        "ALTER TABLE items ADD COLUMN note text, DROP COLUMN name; CREATE TABLE fresh (id int)",
    )
    result = run_cli(capsys, monkeypatch, "check", *flags, "--json")
    assert result.code == 1
    drift = {(d["table"], d["kind"], tuple(d["columns"])) for d in result.json()["drift"]}
    assert drift == {
        ("items", "columns_not_in_cache", ("note",)),
        ("items", "columns_not_in_db", ("name",)),
        ("fresh", "table_not_in_cache", ()),
    }
    # Through OpenAPI only, the column drift is still found.
    result = run_cli(
        capsys, monkeypatch, "check", "--dsn", db_dsn, "--api-url", server.url, "--json"
    )
    assert result.code == 1 and result.json()["source"] == "openapi"

    server.reload_signal()
    server.wait_for_load_count(2)
    result = run_cli(capsys, monkeypatch, "check", *flags)
    assert result.code == 0 and "no drift" in result.out


def test_check_with_the_api_down_is_exit_4(db_dsn: str, capsys, monkeypatch) -> None:
    result = run_cli(
        capsys, monkeypatch, "check", "--dsn", db_dsn, "--api-url", "http://127.0.0.1:1"
    )
    assert result.code == 4 and "API unreachable" in result.err
