"""When the watcher regroups its live table: at once for a failure, a load or a DDL; for access
lines alone (a busy access log) only every few seconds, since they change no count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import polars as pl
import pytest

from runbook.events import EVENT_SCHEMA
from runbook.ingest.follow import FollowBatch
from runbook.ingest.scan import ScanOptions, scan_paths
from runbook.watch.watcher import Watcher, WatchOptions
from tests.watch.conftest import pgrst204_line

T0 = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)


def _batch(events: pl.DataFrame) -> FollowBatch:
    return FollowBatch(events, 0, 0, caught_up=True, finished=False)


def _access(second: int) -> pl.DataFrame:
    row = {**dict.fromkeys(EVENT_SCHEMA), "ts": T0 + timedelta(seconds=second), "kind": "access",
           "method": "POST", "path": "/members", "status": 201, "source": "access.log", "line_no": second}  # fmt: skip
    return pl.DataFrame([row], schema=EVENT_SCHEMA)


def test_access_lines_alone_wait_for_the_next_judgement_but_a_failure_is_judged_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("runbook.watch.watcher.JUDGE_EVERY", 3600.0)  # a slow machine: no timed turn
    watcher = Watcher(WatchOptions(inputs=[], sinks=[], state_dir=tmp_path / "state", once=True), log=StringIO())
    judged: list[bool] = []
    real = watcher.judge
    watcher.judge = lambda rejudge=True: judged.append(rejudge) or real(rejudge)  # type: ignore[method-assign]

    for second in range(20):
        watcher.step(_batch(_access(second)))
    assert judged == []  # twenty polls of access lines: no regrouping yet

    log = tmp_path / "app.log"
    log.write_text(pgrst204_line("members", "nickname", 1))
    failure = scan_paths([str(log)], ScanOptions()).events
    watcher.step(_batch(failure))
    assert judged == [True]
    assert [s.table for s in watcher.state.incidents.values()] == ["members"]
    assert watcher.tracker.dirty is False
