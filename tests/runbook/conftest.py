"""Helpers for the runbook tests: a journal dir per test, a table maker, the CLI in-process."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql

from runbook.cli import main
from tests.support.state import isolate_state


@pytest.fixture(autouse=True)
def isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Journals and config under tmp_path; no connection settings leak in from the machine."""
    yield isolate_state(tmp_path, monkeypatch)


def execute(dsn: str, statement: str | sql.Composable, params: Any = None) -> None:
    """Run one statement in autocommit (DDL for test setup)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(statement, params)


def post_json(url: str, table: str, row: dict[str, Any]) -> httpx.Response:
    """A client write, as an application would send it (body keys = columns)."""
    from urllib.parse import quote

    return httpx.post(
        f"{url}/{quote(table, safe='')}",
        json=row,
        headers={"Prefer": "return=minimal"},
        timeout=10,
    )


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run_cli(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    stdin: str | None = None,
    tty: bool = False,
) -> CliResult:
    """`pgrst-runbook ARGS` in-process; stdin is not a terminal unless `tty`."""
    capsys.readouterr()
    fake = io.StringIO(stdin or "")
    fake.isatty = lambda: tty  # type: ignore[method-assign]
    monkeypatch.setattr("sys.stdin", fake)
    code = main(list(args))
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)


def journal_entries(journal_dir: Path) -> list[dict[str, Any]]:
    """Every entry of every journal in the directory, in file then line order."""
    entries = []
    for path in sorted(journal_dir.glob("*.jsonl")):
        entries += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return entries
