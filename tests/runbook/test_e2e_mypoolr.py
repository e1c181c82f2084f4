"""The MyPoolr case, end to end: the database has `admin_id`, the client sends `adminname`.

A reload cannot fix that, and the runbook must say so instead of claiming a fix.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runbook.conftest import execute, journal_entries, post_json, run_cli


@pytest.fixture
def mypoolr(db_dsn: str, postgrest):
    execute(
        db_dsn,
        "CREATE TABLE mypoolr (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text NOT NULL,"
        " admin_id uuid, contribution_amount numeric, created_at timestamptz DEFAULT now())",
    )
    server = postgrest(db_dsn)
    server.wait_for_load_count(1)
    failing = post_json(server.url, "mypoolr", {"name": "pool", "adminname": "alice"})
    assert failing.json()["code"] == "PGRST204"
    return db_dsn, server


def test_client_mismatch_names_admin_id_and_offers_no_reload(
    mypoolr, capsys, monkeypatch, isolated_state: Path
) -> None:
    dsn, server = mypoolr
    loads_before = server.load_count()

    result = run_cli(
        capsys, monkeypatch,
        "run", "--table", "mypoolr", "--column", "adminname",
        "--dsn", dsn, "--api-url", server.url, "--admin-url", server.admin_url,
        "--yes", "--json",
    )  # fmt: skip

    assert result.code == 5
    out = result.json()
    assert out["verdict"] == "client_mismatch"
    assert out["fixed"] is False
    assert out["nearest_columns"][0] == "admin_id"
    assert "admin_id" in out["suggestions"][0]
    assert any("reload will not fix" in s for s in out["suggestions"])
    assert "reload" not in [s["name"] for s in out["steps"]]
    facts = {e["check"]: e["fact"] for e in out["evidence"]}
    assert facts["column adminname exists in the database"] is False
    # Even with --yes nothing was reloaded: the verdict says a reload would not help.
    assert server.load_count() == loads_before
    assert not any(e["step"] == "reload" for e in journal_entries(isolated_state))


def test_text_output_says_plainly_that_a_reload_will_not_fix_it(
    mypoolr, capsys, monkeypatch
) -> None:
    dsn, server = mypoolr
    result = run_cli(
        capsys, monkeypatch,
        "run", "--table", "mypoolr", "--column", "adminname", "--dsn", dsn,
        "--api-url", server.url,
    )  # fmt: skip
    assert "Verdict: client_mismatch" in result.out
    assert "A reload will not fix it." in result.out
    assert "admin_id" in result.out
    assert "FIXED" not in result.out.replace("NOT FIXED", "")


def test_with_only_the_api_the_read_probe_still_proves_the_column_is_absent(
    mypoolr, capsys, monkeypatch
) -> None:
    """No database credentials: `GET ?select=adminname` reaches PostgreSQL and gets 42703."""
    _, server = mypoolr
    result = run_cli(
        capsys, monkeypatch,
        "run", "--table", "mypoolr", "--column", "adminname", "--api-url", server.url,
        "--dsn", "host=127.0.0.1 port=1 user=nobody connect_timeout=2", "--json",
    )  # fmt: skip
    out = result.json()
    assert out["verdict"] == "client_mismatch"
    assert out["nearest_columns"][0] == "admin_id"  # from the OpenAPI column list
    assert "Database unreachable" in result.err


def test_a_migration_that_adds_the_column_makes_it_pending_migration(
    mypoolr, capsys, monkeypatch, tmp_path: Path
) -> None:
    dsn, server = mypoolr
    migrations = tmp_path / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "20260101000000_init.sql").write_text("CREATE TABLE mypoolr (id uuid);\n")
    (migrations / "20261118090000_admin_name.sql").write_text(
        "-- the client already sends it\nALTER TABLE public.mypoolr\n  ADD COLUMN adminname text;\n"
    )
    result = run_cli(
        capsys, monkeypatch,
        "run", "--table", "mypoolr", "--column", "adminname", "--dsn", dsn,
        "--api-url", server.url, "--migrations", str(migrations), "--yes", "--json",
    )  # fmt: skip
    out = result.json()
    assert result.code == 5
    assert out["verdict"] == "pending_migration"
    row = next(e for e in out["evidence"] if e["source"] == "migrations")
    assert row["fact"] is True
    assert "20261118090000_admin_name.sql:2" in row["detail"]
    assert "reload" not in [s["name"] for s in out["steps"]]
