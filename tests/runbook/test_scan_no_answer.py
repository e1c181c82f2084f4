"""`scan` never reads as an all-clear when the logs were not read.

An on-call person skims the first line: "no incidents" on an input that could not be opened,
an empty folder, or lines no parser understood would send them back to bed with the API down.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.runbook.conftest import run_cli

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"


def test_an_unreadable_input_is_no_answer(capsys, monkeypatch, tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "x.log"
    result = run_cli(capsys, monkeypatch, "scan", str(missing), "--no-progress")
    assert result.code == 3
    first = result.out.splitlines()[0]
    assert first.startswith("no answer") and "could be read" in first
    assert "no PGRST204 incidents found" not in result.out
    assert f"cannot read {missing}" in result.err


def test_an_empty_folder_is_no_answer_even_for_ci(capsys, monkeypatch, tmp_path: Path) -> None:
    result = run_cli(capsys, monkeypatch, "scan", str(tmp_path), "--fail-on-incidents", "--no-progress")
    assert result.code == 3
    assert result.out.startswith("no answer: no log file was found")
    assert "nothing was read" in result.err


def test_some_inputs_unreadable_is_not_an_all_clear(capsys, monkeypatch, tmp_path: Path) -> None:
    quiet = tmp_path / "quiet.log"
    quiet.write_text("2026-11-22 10:00:00,000 INFO app: all good\n")
    result = run_cli(
        capsys, monkeypatch, "scan", str(quiet), str(tmp_path / "gone.log"), "--no-progress"
    )
    assert result.code == 3
    assert "not an all-clear" in result.out.splitlines()[0]


def test_candidate_lines_no_parser_read_are_named(capsys, monkeypatch, tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(
        "2026-11-22 10:00:00,000 INFO app: started\n"
        "2026-11-22 10:00:01,000 ERROR app: PGRST2 something unreadable\n"
    )
    result = run_cli(capsys, monkeypatch, "scan", str(log), "--format", "json", "--no-progress")
    doc = json.loads(result.out)
    skipped = doc["stats"]["skipped"]
    assert skipped and skipped[0]["source"] == str(log) and skipped[0]["lines"] >= 1
    assert f"{log}: " in result.err and "matched no parser" in result.err
    table = run_cli(capsys, monkeypatch, "scan", str(log), "--no-progress")
    assert "matched no parser" in table.out.splitlines()[0]


@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_incidents_found_still_read_as_before(capsys, monkeypatch, fmt: str) -> None:
    result = run_cli(
        capsys, monkeypatch, "scan", str(SAMPLES / "mypoolr"), "--format", fmt, "--no-progress"
    )
    assert result.code == 0 and "adminname" in result.out and "no answer" not in result.out
