"""`run` as scripts use it: --from-scan, --incident, the --json contract, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runbook.commands.run import targets_from_scan
from runbook.errors import UsageError
from runbook.evidence import Target
from tests.runbook.conftest import execute, run_cli

JSON_KEYS = {"table", "column", "verdict", "evidence", "suggestions", "steps", "journal"}
STEP_KEYS = {"name", "status", "started", "finished", "detail"}


def scan_file(tmp_path: Path, incidents: list[dict]) -> Path:
    path = tmp_path / "scan.json"
    path.write_text(json.dumps({"incidents": incidents, "related": [], "stats": {}}))
    return path


def incident(table: str | None, column: str | None, schema: str | None = "public") -> dict:
    return {
        "code": "PGRST204", "table": table, "column": column, "schema": schema, "count": 3,
        "first_seen": "2026-11-18T09:00:00Z", "last_seen": "2026-11-18T09:05:00Z",
        "endpoints": [], "sources": [], "per_minute": [], "context": {},
    }  # fmt: skip


def test_targets_from_scan(tmp_path: Path) -> None:
    path = scan_file(
        tmp_path,
        [incident("mypoolr", "adminname"), incident("items", None), incident("a", "b", None)],
    )
    assert targets_from_scan(path) == [Target("mypoolr", "adminname"), Target("a", "b", "public")]
    assert targets_from_scan(path, 1) == [Target("mypoolr", "adminname")]
    with pytest.raises(UsageError, match="names no table and column"):
        targets_from_scan(path, 2)
    with pytest.raises(UsageError, match="has incidents 1..3"):
        targets_from_scan(path, 4)


def test_from_scan_runs_every_incident_and_prints_an_array(
    db_dsn: str, capsys, monkeypatch, tmp_path: Path
) -> None:
    execute(
        db_dsn,
        "CREATE TABLE mypoolr (id int, admin_id uuid); CREATE TABLE items (id int, note text)",
    )
    path = scan_file(tmp_path, [incident("mypoolr", "adminname"), incident("gone", "x")])
    result = run_cli(
        capsys, monkeypatch, "run", "--from-scan", str(path), "--dsn", db_dsn, "--json"
    )
    assert result.code == 5
    runs = result.json()
    assert [r["verdict"] for r in runs] == ["client_mismatch", "table_missing"]
    for r in runs:
        assert JSON_KEYS <= set(r)
        assert all(STEP_KEYS == set(s) for s in r["steps"])
        assert Path(r["journal"]).is_file()

    result = run_cli(
        capsys,
        monkeypatch,
        "run",
        "--from-scan",
        str(path),
        "--incident",
        "1",
        "--dsn",
        db_dsn,
        "--json",
    )
    assert result.json()["verdict"] == "client_mismatch"  # one object, not an array


def test_json_stdout_is_only_json_even_with_prompts(db_dsn: str, capsys, monkeypatch) -> None:
    execute(db_dsn, "CREATE TABLE items (id int)")
    result = run_cli(
        capsys, monkeypatch, "run", "--table", "items", "--column", "note", "--dsn", db_dsn,
        "--json", "--allow-write-probe", "--api-url", "http://127.0.0.1:1",
    )  # fmt: skip
    json.loads(result.out)  # no prompt or progress text mixed in
    assert "Incident: public.items.note" in result.err


def test_a_config_file_supplies_the_connection(
    db_dsn: str, capsys, monkeypatch, tmp_path: Path
) -> None:
    execute(db_dsn, "CREATE TABLE items (id int, admin_id int)")
    config = tmp_path / "config" / "pgrst-runbook" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'dsn = "{db_dsn}"\n')
    result = run_cli(
        capsys, monkeypatch, "run", "--table", "items", "--column", "adminId", "--json"
    )
    assert result.json()["nearest_columns"] == ["admin_id"]


def test_run_says_each_connection_error_once_after_the_verdict(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_cli(
        capsys, monkeypatch, "run", "--table", "members", "--column", "telegram_handle",
        "--dsn", "host=127.0.0.1 port=1 connect_timeout=1", "--api-url", "http://127.0.0.1:9",
    )
    assert result.code == 4
    both = result.out + result.err
    assert both.count("cannot connect to") == 1, both
    assert both.count("cannot reach http://127.0.0.1:9") == 1, both
    assert "Verdict: unknown" in result.out
    assert "Database unreachable (below)" in result.out and "API unreachable (below)" in result.out
    assert "pgrst-runbook: Database unreachable: cannot connect to" in result.err
