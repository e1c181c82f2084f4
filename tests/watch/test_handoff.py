"""The report written on resolve, cut to a size a GitHub issue body takes."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from runbook.ingest.follow import Follower
from runbook.watch.handoff import write_report
from tests.watch.conftest import ROOT


def test_report_is_cut_with_a_note(tmp_path: Path) -> None:
    follower = Follower([str(ROOT / "sample_logs" / "mypoolr")])
    frames = [b.events for b in follower.batches(poll_interval=0.01) if b.events.height]
    events = pl.concat(frames)
    whole = write_report(tmp_path / "whole", events, follower, "mypoolr", "adminname")
    cut = write_report(tmp_path / "cut", events, follower, "mypoolr", "adminname", max_chars=1500)
    assert whole is not None and cut is not None
    assert len(whole.read_text()) > 1500
    text = cut.read_text()
    assert len(text) <= 1500 and "report cut at 1,500 characters" in text
    assert write_report(tmp_path / "none", events, follower, "mypoolr", "no_such_column") is None
