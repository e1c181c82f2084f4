"""Follower positions: a resumed read goes on at the offset with the line numbers it had."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from runbook.ingest.follow import Follower, TailPosition
from tests.watch.conftest import append, pgrst204_line

HEADER = "2026-11-18 09:10:00,000 INFO app: started\n"


def read_all(follower: Follower) -> pl.DataFrame:
    frames = [b.events for b in follower.batches(poll_interval=0.01) if b.events.height]
    follower.close()
    return pl.concat(frames) if frames else pl.DataFrame()


def test_resume_goes_on_at_the_offset_with_its_line_numbers(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(HEADER + "".join(pgrst204_line("t", "c", i) for i in range(3)))
    first = Follower([str(log)])
    events = read_all(first)
    position = first.tails[0].position()
    assert position is not None and position.offset == log.stat().st_size and position.line_no == 4
    append(log, "".join(pgrst204_line("t", "c", i) for i in range(3, 5)))
    second = Follower([str(log)], resume={str(log): position})
    more = read_all(second)
    assert more.height == 2 and events.height == 3
    assert more["line_no"].to_list() == [5, 6]


def test_a_partial_last_line_is_not_counted_as_read(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    whole = HEADER + pgrst204_line("t", "c", 0)
    log.write_text(whole + pgrst204_line("t", "c", 1)[:20])
    follower = Follower([str(log)], follow=True)
    follower.read()
    position = follower.tails[0].position()
    follower.close()
    assert position is not None and position.offset == len(whole.encode())


def test_another_file_under_the_name_is_read_from_its_start(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(HEADER + pgrst204_line("t", "c", 0))
    stale = TailPosition(device=0, inode=0, offset=10, line_no=1)
    events = read_all(Follower([str(log)], resume={str(log): stale}))
    assert events.height == 1 and events["line_no"].to_list() == [2]


def test_stdin_is_said_not_resumable_and_keeps_no_position(tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    from tests.watch.conftest import ROOT

    lines = HEADER + "".join(pgrst204_line("t", "c", i) for i in range(3))
    state = tmp_path / "state"

    def watch_stdin() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "runbook", "watch", "-", "--once", "--state", str(state),
             "--notify", "exec:true"],
            cwd=ROOT, input=lines, capture_output=True, text=True, timeout=120, check=False,
            env={**os.environ},
        )  # fmt: skip

    first = watch_stdin()
    assert first.returncode == 0, first.stderr
    assert "stdin: not resumable by offset" in first.stderr
    saved = json.loads((state / "state.json").read_text())
    assert "-" not in saved["inputs"]  # no position that would pretend a restart resumes it
    record = saved["streams"]["-"]
    assert record["resumable"] is False and "counted again" in record["reason"]
    assert record["lines_read"] == 4 and record["runs"] == 1

    second = watch_stdin()
    assert second.returncode == 0, second.stderr
    assert "the last run read 4 line(s) of it, which this run cannot skip" in second.stderr
    saved = json.loads((state / "state.json").read_text())
    assert saved["streams"]["-"]["runs"] == 2 and "-" not in saved["inputs"]
