"""End to end with real parts: a stale cache fixed by `run`, then `report` from the application
log, PostgREST's own logs and the journal that `run` wrote (not a hand-written one)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from tests.report.conftest import Cli
from tests.runbook.conftest import execute, isolated_state, post_json  # noqa: F401


def test_report_from_a_real_run_journal(
    db_dsn: str,
    postgrest,
    cli: Cli,
    tmp_path: Path,
    isolated_state: Path,  # noqa: F811
) -> None:
    execute(db_dsn, "CREATE TABLE items (id serial PRIMARY KEY, name text)")
    server = postgrest(db_dsn)
    server.wait_for_load_count(1)
    execute(db_dsn, "ALTER TABLE items ADD COLUMN note text")
    failing = post_json(server.url, "items", {"name": "a", "note": "hello"})
    assert failing.json()["code"] == "PGRST204"
    logs = tmp_path / "logs"
    logs.mkdir()
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    (logs / "app.log").write_text(f"{now} ERROR insert failed: {json.dumps(failing.json())}\n")

    code, _, err = cli(
        "run", "--table", "items", "--column", "note", "--dsn", db_dsn,
        "--api-url", server.url, "--admin-url", server.admin_url,
        "--yes", "--allow-write-probe", "--verify-deadline", "10",
    )  # fmt: skip
    assert code == 0, err
    (logs / "postgrest.log").write_text("\n".join(server.stderr_lines()) + "\n")
    (logs / "access.log").write_text("\n".join(server.access_lines()) + "\n")
    journal = next(isolated_state.glob("*.jsonl"))

    code, out, err = cli("report", str(logs), "--session", str(journal))
    assert code == 0, err
    assert "**Verdict: `stale_cache`** (from the runbook's diagnosis)" in out
    assert "| reload | sent |" in out and "NOTIFY \"pgrst\", 'reload schema'" in out
    assert "| verify | ok |" in out
    assert "| verify | reload counter moved | yes |" in out
    times = {
        t["name"]: t
        for t in json.loads(cli("report", str(logs), "--session", str(journal), "--json")[1])[
            "key_times"
        ]
    }
    assert times["resolution"]["basis"].startswith("journal #")
    assert times["detection"]["ts"] is not None
    assert "None" not in out and "??" not in out
