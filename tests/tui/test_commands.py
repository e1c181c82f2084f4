"""The `tui` and `replay` commands as a shell calls them (no terminal here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runbook", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_tui_without_a_terminal_says_what_to_use_instead() -> None:
    result = run("tui", "sample_logs")
    assert result.returncode == 2
    assert "needs a terminal" in result.stderr and "replay --headless" in result.stderr


def test_replay_without_a_terminal_prints_the_incident_stream() -> None:
    result = run("replay", "sample_logs/stale-cache", "--speed", "100000", "--max-gap", "1")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("replaying 5 file(s)")
    assert any("NEW" in line and "members.telegram_handle" in line for line in lines)
    assert lines[-1].startswith("done: 1 incident(s), 32 failed requests")


def test_replay_json_lines_follow_the_documented_shape() -> None:
    result = run("replay", "sample_logs/mypoolr", "--json", "--speed", "100000", "--max-gap", "1")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["type"] for r in records} == {"incident", "event", "end"}
    first = next(r for r in records if r["type"] == "incident")
    assert first["change"] == "new"
    assert set(first["incident"]) == {
        "id", "table", "column", "schema", "count", "first_seen", "last_seen"
    }
    assert records[-1]["incidents"] == 1 and records[-1]["requests"] == 27


def test_replay_reads_stdin_too() -> None:
    log = (ROOT / "tests/tui/data/stale_cache/app.log").read_text()
    result = run("replay", "-", "--headless", "--speed", "100000", stdin=log)
    assert result.returncode == 0, result.stderr
    assert "members.telegram_handle" in result.stdout


def test_bad_speed_is_a_usage_error() -> None:
    result = run("replay", "sample_logs", "--speed", "0")
    assert result.returncode == 2
    assert "speed must be positive" in result.stderr
