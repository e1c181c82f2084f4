"""Verdicts from evidence (pure: inspections built by hand), and nearest-column suggestions."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.config import Settings
from runbook.diagnosis.from_servers import Verdict, diagnose, nearest_columns, snake
from runbook.errors import ApiUnreachable, DatabaseUnreachable
from runbook.evidence import Target
from runbook.servers.api import CacheView, ProbeResult
from runbook.servers.catalog import Column, Relation
from runbook.servers.inspection import ApiView, DbView, Inspection, build_rows
from runbook.servers.migration_files import scan_migrations

SETTINGS = Settings()
ITEMS = Relation(1, "public", "items", "table")


def cols(*names: str) -> list[Column]:
    return [Column(n, "text", False, False, False) for n in names]


def inspection(
    column: str = "note",
    *,
    db: DbView | None = None,
    api: ApiView | None = None,
    migrations: Path | None = None,
) -> Inspection:
    insp = Inspection(
        Target("items", column),
        db if db is not None else DbView(relation=ITEMS, columns=cols("id", "note")),
        api if api is not None else ApiView(),
    )
    if migrations is not None:
        insp.migrations = scan_migrations(migrations)
    build_rows(insp, SETTINGS)
    return insp


def admin(*columns: str, schema: str = "public") -> CacheView:
    return CacheView("admin", {(schema, "items"): frozenset(columns)}, frozenset({schema}))


@pytest.mark.parametrize(
    ("key", "columns", "expected"),
    [
        ("adminname", ["id", "name", "admin_id", "created_at"], ("admin_id", "similar name")),
        ("doselogs", ["id", "doseLogs"], ("doseLogs", "differs only in case")),
        ("brushTeeth", ["brush_teeth", "id"], ("brush_teeth", "same name in snake_case/camelCase")),
        (
            "pay_stack_customer_id",
            ["paystack_customer_id"],
            ("paystack_customer_id", "same name in snake_case/camelCase"),
        ),
        ("Email", ["email", "emails"], ("email", "differs only in case")),
    ],
)
def test_nearest_columns(key: str, columns: list[str], expected: tuple[str, str]) -> None:
    first = nearest_columns(key, columns)[0]
    assert (first.name, first.reason) == expected


def test_nearest_columns_does_not_invent_matches() -> None:
    assert nearest_columns("helicopter", ["id", "name", "created_at"]) == []
    assert [m.name for m in nearest_columns("adminname", ["name", "id"])] == []


def test_snake() -> None:
    assert snake("brushTeeth") == "brush_teeth"
    assert snake("HTTPCode") == "http_code"
    assert snake("pay-stack id") == "pay_stack_id"


def test_stale_cache_when_the_database_has_it_and_the_cache_does_not() -> None:
    d = diagnose(inspection(api=ApiView(admin=admin("id"))), SETTINGS)
    assert d.verdict is Verdict.STALE_CACHE and d.reload_helps
    facts = {(r.source, r.fact) for r in d.evidence}
    assert ("database", True) in facts and ("admin", False) in facts


def test_a_table_missing_from_the_cache_is_stale_too() -> None:
    empty = CacheView("admin", {}, frozenset({"public"}))
    assert diagnose(inspection(api=ApiView(admin=empty)), SETTINGS).verdict is Verdict.STALE_CACHE


def test_the_write_probe_outranks_openapi() -> None:
    api = ApiView(
        openapi=CacheView(
            "openapi", {("public", "items"): frozenset({"id", "note"})}, frozenset({"public"})
        ),
        write_probe=ProbeResult("POST", "/items?columns=note", 400, "PGRST204", "Could not find"),
    )
    assert diagnose(inspection(api=api), SETTINGS).verdict is Verdict.STALE_CACHE


def test_already_resolved_when_both_have_it() -> None:
    d = diagnose(inspection(api=ApiView(admin=admin("id", "note"))), SETTINGS)
    assert d.verdict is Verdict.ALREADY_RESOLVED and not d.reload_helps


def test_client_mismatch_says_a_reload_will_not_fix_it() -> None:
    db = DbView(relation=ITEMS, columns=cols("id", "name", "admin_id"))
    d = diagnose(
        inspection("adminname", db=db, api=ApiView(admin=admin("id", "name", "admin_id"))), SETTINGS
    )
    assert d.verdict is Verdict.CLIENT_MISMATCH
    assert not d.reload_helps
    assert d.nearest[0].name == "admin_id"
    assert "reload will not fix" in d.summary.lower() + " ".join(d.suggestions).lower()


def test_pending_migration_needs_a_file_that_adds_the_column(tmp_path: Path) -> None:
    (tmp_path / "001_add.sql").write_text("ALTER TABLE items ADD COLUMN adminname text;")
    d = diagnose(inspection("adminname", migrations=tmp_path), SETTINGS)
    assert d.verdict is Verdict.PENDING_MIGRATION
    (tmp_path / "002_rename.sql").write_text(
        "ALTER TABLE items RENAME COLUMN adminname TO admin_id;"
    )
    d = diagnose(inspection("adminname", migrations=tmp_path), SETTINGS)
    assert d.verdict is Verdict.CLIENT_MISMATCH  # a later file renamed it away


def test_table_missing_and_schema_not_exposed() -> None:
    db = DbView(relation=None, schema_relations=["item", "orders"])
    d = diagnose(inspection(db=db), SETTINGS)
    assert d.verdict is Verdict.TABLE_MISSING
    assert any("public.item" in s for s in d.suggestions)

    db = DbView(relation=None, similar_relations=[Relation(2, "private", "items", "table")])
    assert diagnose(inspection(db=db), SETTINGS).verdict is Verdict.SCHEMA_NOT_EXPOSED

    api = ApiView(read_probe=ProbeResult("GET", "/items", 406, "PGRST106", "Invalid schema: x"))
    assert diagnose(inspection(api=api), SETTINGS).verdict is Verdict.SCHEMA_NOT_EXPOSED


def test_database_down_but_the_read_probe_reached_postgres() -> None:
    down = DbView(error=DatabaseUnreachable("cannot connect to u@h:5432/d"))
    missing = ApiView(
        read_probe=ProbeResult("GET", "/items", 400, "42703", "column items.x does not exist"),
        openapi=CacheView(
            "openapi", {("public", "items"): frozenset({"id", "xx"})}, frozenset({"public"})
        ),
    )
    d = diagnose(inspection("x", db=down, api=missing), SETTINGS)
    assert d.verdict is Verdict.CLIENT_MISMATCH and d.nearest[0].name == "xx"

    present = ApiView(read_probe=ProbeResult("GET", "/items", 200), openapi=missing.openapi)
    assert diagnose(inspection("x", db=down, api=present), SETTINGS).verdict is Verdict.STALE_CACHE


def test_unknown_says_what_could_and_could_not_be_established() -> None:
    down = DbView(error=DatabaseUnreachable("cannot connect to u@h:5432/d"))
    api = ApiView(errors={"read_probe": ApiUnreachable("cannot reach http://api:3000")})
    d = diagnose(inspection(db=down, api=api), SETTINGS)
    assert d.verdict is Verdict.UNKNOWN
    assert "whether column note exists in the database" in d.not_established
    assert "cannot connect to u@h:5432/d" in d.summary and "cannot reach" in d.summary

    cache_only = ApiView(admin=admin("id"), errors={"read_probe": ApiUnreachable("x")})
    d = diagnose(inspection(db=down, api=cache_only), SETTINGS)
    assert d.verdict is Verdict.UNKNOWN
    assert d.established == ["PostgREST's schema cache lacks column note"]


def test_stale_cache_warns_when_nobody_listens() -> None:
    db = DbView(relation=ITEMS, columns=cols("id", "note"), listeners=[], listeners_visible=True)
    d = diagnose(inspection(db=db, api=ApiView(admin=admin("id"))), SETTINGS)
    assert d.verdict is Verdict.STALE_CACHE
    assert any("No session is LISTENing" in s for s in d.suggestions)
