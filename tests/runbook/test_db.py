"""Database access: READ ONLY for inspection, statement timeouts, errors without passwords."""

from __future__ import annotations

import psycopg
import pytest

from runbook.config import load_settings
from runbook.errors import AuthFailed, DatabaseUnreachable, TimeoutExceeded
from runbook.servers import db


def test_inspection_transactions_are_read_only(db_dsn: str) -> None:
    settings = load_settings({"dsn": db_dsn})
    with pytest.raises(DatabaseUnreachable) as err, db.read_only(settings) as conn:
        conn.execute("CREATE TABLE should_not_exist (id int)")
    assert "read-only transaction" in err.value.message
    with psycopg.connect(db_dsn) as conn:
        assert conn.execute("SELECT to_regclass('should_not_exist')").fetchone() == (None,)


def test_statement_timeout_is_a_timeout_error(db_dsn: str) -> None:
    settings = load_settings({"dsn": db_dsn, "statement_timeout": 0.2})
    with (
        pytest.raises(TimeoutExceeded, match="exceeded the statement timeout"),
        db.read_only(settings) as conn,
    ):
        conn.execute("SELECT pg_sleep(5)")


def test_errors_name_the_target_never_the_password(pg_server) -> None:
    dsn = pg_server.dsn(user=pg_server.password_role, password="not-the-Password1")
    with pytest.raises(AuthFailed) as err, db.read_only(load_settings({"dsn": dsn})):
        pass
    text = err.value.one_line()
    assert f"{pg_server.password_role}@{pg_server.host}:{pg_server.port}/postgres" in text
    assert "not-the-Password1" not in text


def test_missing_database_is_named(pg_server) -> None:
    with pytest.raises(DatabaseUnreachable, match="database 'nope' does not exist"):
        with db.read_only(load_settings({"dsn": pg_server.dsn("nope")})):
            pass


def test_db_target_uses_pg_variables_for_an_empty_dsn() -> None:
    target = db.db_target(
        "", {"PGHOST": "db.internal", "PGPORT": "6543", "PGUSER": "ops", "PGDATABASE": "app"}
    )
    assert str(target) == "ops@db.internal:6543/app"
