"""Migration files read with PostgreSQL's parser: adds, drops, renames, quoting, bad files."""

from __future__ import annotations

from pathlib import Path

from runbook.servers.migration_files import (
    column_added_by,
    columns_after,
    file_version,
    scan_migrations,
)


def test_column_changes_across_files_in_order(tmp_path: Path) -> None:
    (tmp_path / "20240101000000_init.sql").write_text(
        'CREATE TABLE public."MyPool" (id int PRIMARY KEY, "AdminName" text, Note text);\n'
    )
    (tmp_path / "20240202000000_more.sql").write_text(
        "-- comment; with a semicolon\n"
        'ALTER TABLE ONLY "MyPool"\n  ADD COLUMN IF NOT EXISTS admin_id uuid,\n  DROP COLUMN note;\n'
        'ALTER TABLE "MyPool" RENAME COLUMN "AdminName" TO owner;\n'
        "DO $$ BEGIN RAISE NOTICE 'x;y'; END $$;\n"
    )
    scan = scan_migrations(tmp_path)
    assert scan.problems == []
    assert columns_after(scan, "public", "MyPool") == {"id", "admin_id", "owner"}
    added = column_added_by(scan, "public", "MyPool", "admin_id")
    assert added is not None and added.line == 2 and added.version == "20240202000000"
    assert "ADD COLUMN IF NOT EXISTS admin_id" in added.statement
    assert column_added_by(scan, "public", "MyPool", "AdminName") is None  # renamed away
    assert column_added_by(scan, "public", "MyPool", "note") is None  # dropped


def test_a_bad_statement_does_not_hide_the_others(tmp_path: Path) -> None:
    (tmp_path / "001.sql").write_text(
        "ALTER TABLE items ADD COLUM broken int;\nALTER TABLE items ADD COLUMN good int;\n"
    )
    scan = scan_migrations(tmp_path)
    assert column_added_by(scan, "public", "items", "good") is not None
    assert len(scan.problems) == 1 and "001.sql:1" in scan.problems[0]


def test_schema_qualified_and_default_schema(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text(
        "ALTER TABLE api.items ADD COLUMN x int; ALTER TABLE items ADD COLUMN y int;"
    )
    scan = scan_migrations(tmp_path, default_schema="app")
    assert column_added_by(scan, "api", "items", "x") is not None
    assert column_added_by(scan, "app", "items", "y") is not None
    assert column_added_by(scan, "public", "items", "y") is None


def test_file_version() -> None:
    assert file_version(Path("20240101120000_add_col.sql")) == "20240101120000"
    assert file_version(Path("add_col.sql")) is None
