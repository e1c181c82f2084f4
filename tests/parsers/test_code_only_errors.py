"""A PostgreSQL 42703 or 42P01 logged by its code alone, its wording dropped, is still found.

A client that logs only the fields of an error body (`code`, `details`, `hint`) without the
message, or a structured logger that flattens it (`error_code=42703`), leaves nothing of the
wording `column "x" of relation "t" does not exist` (reference/causes.md). The code counts
only as the value of a code field: the same five digits in a size or an id are no error.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from postgrest.exceptions import APIError

from runbook.ingest.scan import document, scan_paths
from tests.support.python_logs import write_log

T0 = datetime(2026, 11, 18, 9, 10, tzinfo=UTC)


def log_lines(path: Path, messages: list[str]) -> None:
    """Lines as Python's logging writes them with the common basicConfig format."""
    write_log(path, [(logging.ERROR, m) for m in messages], f"bot.db.{path.stem}")


def events(path: Path) -> list[tuple[object, ...]]:
    result = scan_paths([str(path)])
    return list(result.events.select("line_no", "kind", "code", "table", "column").iter_rows())


def test_postgrest_py_error_without_its_message(tmp_path: Path) -> None:
    # postgrest-py's own APIError, as it comes when the body held no message
    error = APIError({"code": "42703", "details": None, "hint": None, "message": None})
    path = tmp_path / "bot.log"
    log_lines(path, [f"insert failed: {error}", "request took 42703 ms", "user 42P01 saved"])
    assert events(path) == [(1, "db_error", "42703", None, None)]


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("insert failed code=42703 table=members", "42703"),  # logfmt
        ("insert failed sqlstate=42P01", "42P01"),
        ("ERROR: insert failed (SQLSTATE 42703)", "42703"),  # pgx
        ("insert failed { code: '42703', details: null, hint: null }", "42703"),  # util.inspect
        ('insert failed {\\"code\\":\\"42703\\",\\"details\\":null}', "42703"),  # JSON in a string
    ],
    ids=["logfmt", "sqlstate", "pgx", "inspect", "escaped-json"],
)
def test_code_fields_in_text(tmp_path: Path, line: str, code: str) -> None:
    path = tmp_path / "app.log"
    log_lines(path, [line])
    assert events(path) == [(1, "db_error", code, None, None)]


def test_flattened_json_fields_name_the_column(tmp_path: Path) -> None:
    path = tmp_path / "app.jsonl"
    records = [
        {"time": T0.isoformat(), "level": "error", "msg": "insert failed", "error_code": "42703",
         "table": "members", "column": "telegram_handle"},
        {"time": T0.isoformat(), "level": "error", "msg": "insert failed",
         "error": {"code": "42703", "details": None, "hint": None}},
        {"time": T0.isoformat(), "level": "info", "msg": "fetched 42703 rows"},
    ]
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    assert events(path) == [
        (1, "db_error", "42703", "members", "telegram_handle"),
        (2, "db_error", "42703", None, None),
    ]
    related = document(scan_paths([str(path)]))["related"]
    assert sorted((r["code"], r["table"] or "", r["count"]) for r in related) == [
        ("42703", "", 1), ("42703", "members", 1),
    ]
