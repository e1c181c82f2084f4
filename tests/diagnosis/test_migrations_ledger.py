"""Migration files against a Supabase-style ledger in a real database; rename migrations."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from runbook.servers.migration_files import scan_migrations
from runbook.servers.migration_ledger import (
    apply_command,
    column_origin,
    default_migrations_dir,
    ledger_status,
    pending_plan,
    read_ledger,
    renamed_away,
)
from tests.diagnosis.conftest import execute

FILES = {
    "20240101000000_init.sql": "CREATE TABLE public.items (id bigint PRIMARY KEY, name text);\n",
    "20240201000000_profiles.sql": (
        "-- profiles\ncreate table if not exists profiles (\n  id uuid primary key,\n"
        '  "fullName" text\n);\n'
    ),
    "20240301000000_add_note.sql": (
        '/* adds a note */\n\nALTER TABLE IF EXISTS ONLY "public"."items"\n'
        "    add column IF NOT EXISTS   Note text;\n"
    ),
}
LEDGER_SQL = """
CREATE SCHEMA supabase_migrations;
CREATE TABLE supabase_migrations.schema_migrations (
  version text PRIMARY KEY, statements text[], name text);
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    migrations = tmp_path / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    for name, text in FILES.items():
        (migrations / name).write_text(text)
    return tmp_path


def apply(dsn: str, migrations: Path, names: list[str]) -> None:
    for name in names:
        execute(dsn, (migrations / name).read_text())
        execute(
            dsn,
            "INSERT INTO supabase_migrations.schema_migrations (version, name) VALUES (%s, %s)",
            [name.split("_", 1)[0], name],
        )


def ledger(dsn: str) -> set[str] | None:
    with psycopg.connect(dsn) as conn:
        conn.read_only = True
        return read_ledger(conn)


def test_one_unapplied_file_is_found_and_it_adds_the_column(db_dsn: str, project: Path) -> None:
    migrations = project / "supabase" / "migrations"
    execute(db_dsn, LEDGER_SQL)
    apply(db_dsn, migrations, ["20240101000000_init.sql", "20240201000000_profiles.sql"])

    applied = ledger(db_dsn)
    assert applied == {"20240101000000", "20240201000000"}
    scan = scan_migrations(migrations)
    status = ledger_status(scan, applied)
    assert [Path(p).name for _, p in status.unapplied] == ["20240301000000_add_note.sql"]
    assert status.evidence()[0].fact is False

    origin = column_origin(scan, "public", "items", "note")
    assert origin is not None
    assert (Path(origin.path).name, origin.line, origin.kind) == (
        "20240301000000_add_note.sql",
        3,
        "ADD COLUMN",
    )
    assert status.is_applied(origin.version) is False
    plan = pending_plan(origin, migrations, table="items", column="note")
    assert plan[0].startswith(f"Apply {origin.where} (ADD COLUMN): supabase db push")
    assert "NOTIFY pgrst, 'reload schema';" in plan[1]
    assert plan[2] == "Verify: pgrst-runbook run --schema public --table items --column note"


def test_no_ledger_is_said_plainly(db_dsn: str, project: Path) -> None:
    assert ledger(db_dsn) is None
    status = ledger_status(scan_migrations(project / "supabase" / "migrations"), None)
    assert not status.present and status.unapplied == []
    assert status.evidence()[0].check == "migration ledger present"


def test_create_table_origin_keeps_quoted_case(project: Path) -> None:
    scan = scan_migrations(project / "supabase" / "migrations")
    origin = column_origin(scan, "public", "profiles", "fullName")
    assert origin is not None and origin.kind == "CREATE TABLE" and origin.line == 2
    assert column_origin(scan, "public", "profiles", "fullname") is None


def test_rename_migration_is_named_for_the_old_and_the_new_key(project: Path) -> None:
    migrations = project / "supabase" / "migrations"
    (migrations / "20240401000000_rename.sql").write_text(
        'ALTER TABLE ONLY "public"."profiles"\n  RENAME COLUMN "fullName" TO full_name;\n'
    )
    scan = scan_migrations(migrations)
    away = renamed_away(scan, "public", "profiles", "fullName")
    assert away is not None
    assert (away.kind, away.old_name, away.new_name) == ("RENAME COLUMN", "fullName", "full_name")
    assert Path(away.path).name == "20240401000000_rename.sql" and away.line == 1
    assert column_origin(scan, "public", "profiles", "fullName") is None  # renamed away
    assert column_origin(scan, "public", "profiles", "full_name") == away


def test_plain_directory_gets_psql_with_the_file_quoted(tmp_path: Path) -> None:
    odd = tmp_path / "db migrations"
    odd.mkdir()
    (odd / "001_add.sql").write_text("ALTER TABLE t ADD COLUMN c int;")
    scan = scan_migrations(odd)
    origin = column_origin(scan, "public", "t", "c")
    assert origin is not None
    command = apply_command(origin.path, odd)
    assert command.startswith('psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f ')
    assert f"'{origin.path}'" in command


def test_default_directory_only_when_present(tmp_path: Path, project: Path) -> None:
    assert default_migrations_dir(tmp_path / "nowhere") is None
    assert default_migrations_dir(project) == project / "supabase" / "migrations"
