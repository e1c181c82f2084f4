"""Paths stay as the operator gave them: relative inputs are named relatively in the evidence,
the journal and the saved report, also for what is found by default (`supabase/migrations`,
`sample_logs`). Run from a working directory of its own, so nothing relative resolves by luck."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from runbook.commands.common import default_paths
from tests.runbook.conftest import journal_entries, run_cli

ROOT = Path(__file__).resolve().parents[2]
MIGRATION = "supabase/migrations/20261006140000_telegram.sql"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`logs/` (the recorded stale-cache incident) and a Supabase migration, cwd there."""
    work = tmp_path / "work"
    shutil.copytree(ROOT / "sample_logs" / "stale-cache", work / "logs")
    (work / MIGRATION).parent.mkdir(parents=True)
    (work / MIGRATION).write_text("ALTER TABLE public.members ADD COLUMN telegram_handle text;\n")
    monkeypatch.chdir(work)
    return work


def test_run_names_logs_and_migration_files_as_given(
    workdir: Path, isolated_state: Path, capsys, monkeypatch
) -> None:
    result = run_cli(
        capsys, monkeypatch,
        "run", "--logs", "logs", "--table", "members", "--column", "telegram_handle",
        "--dsn", "host=127.0.0.1 port=1 user=x", "--timeout", "1", "--json",
    )  # fmt: skip
    out = result.json()
    evidence = json.dumps(out["evidence"]) + json.dumps(out["logs"])
    assert f"{MIGRATION}:1" in evidence  # found by default, named relatively
    assert "logs/postgres.csv:9" in evidence
    journal = json.dumps([e["evidence"] for e in journal_entries(isolated_state)])
    assert "logs/" in journal
    for text in (evidence, journal, result.err):
        assert str(workdir) not in text


def test_the_saved_report_names_relative_inputs_relatively(workdir: Path, capsys, monkeypatch) -> None:
    result = run_cli(capsys, monkeypatch, "report", "logs", "-o", "incident.md")
    assert result.code == 0, result.err
    report = (workdir / "incident.md").read_text()
    assert "`logs/worker.log:14`" in report and "logs/postgres.csv:9" in report
    assert str(workdir) not in report and str(workdir) not in result.err


def test_the_bundled_samples_are_named_relatively_from_a_checkout(monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    assert default_paths([]) == ["sample_logs"]
