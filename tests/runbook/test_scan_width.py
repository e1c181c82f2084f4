"""The scan table fits the terminal: cut cells, never wrapped rows; a pipe gets it whole."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runbook.report.scan_render import cut, render_table

ROOT = Path(__file__).resolve().parents[2]


def doc(endpoints: list[str], column: str = "telegram_handle") -> dict:
    incident = {
        "table": "members",
        "column": column,
        "count": 32,
        "first_seen": "2026-10-06T14:05:00+00:00",
        "last_seen": "2026-10-06T14:31:40+00:00",
        "endpoints": endpoints,
        "context": {"stopped_after_reload": True},
    }
    stats = {
        "files": 1, "formats": {"python_logging": 1}, "lines_read": 10, "events": 32,
        "lines_skipped": 0, "unreadable": [],
    }
    return {"incidents": [incident], "related": [], "stats": stats}


def test_cut_marks_where_it_cut_and_keeps_a_path_s_file_name() -> None:
    assert cut("telegram_handle", 9) == "telegram…"
    assert cut("logs/mypoolr/bot.log:15", 12, from_left=True) == "…/bot.log:15"
    assert cut("short", 9) == "short"


@pytest.mark.parametrize("width", [80, 100, 120])
def test_every_line_fits_and_the_deciding_cells_stay_whole(width: int) -> None:
    text = render_table(doc(["PATCH /members", "POST /members", "GET /members?select=*"]), width)
    assert all(len(line) <= width for line in text.splitlines()), text
    row = text.splitlines()[2]
    assert "members" in row and "telegram_handle" in row and "32" in row
    assert "2026-10-06 14:05:00Z" in row and "14:31:40Z" in row


def test_without_a_width_nothing_is_cut() -> None:
    text = render_table(doc(["PATCH /members", "POST /members"]))
    assert "PATCH /members, POST /members" in text and "stopped after a cache load" in text
    assert "…" not in text


def test_a_narrow_terminal_says_what_was_left_out() -> None:
    text = render_table(doc(["PATCH /members"] * 3), 80)
    assert "left out to fit 80 columns" in text and "--format json" in text


def test_scan_cuts_to_columns_and_not_for_a_pipe() -> None:
    env = {**os.environ, "COLUMNS": "80", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "runbook", "scan", str(ROOT / "sample_logs")]
    narrow = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert narrow.returncode in (0, 1), narrow.stderr
    assert all(len(line) <= 80 for line in narrow.stdout.splitlines()), narrow.stdout
    env.pop("COLUMNS")
    piped = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert "stopped after a cache load" in piped.stdout
