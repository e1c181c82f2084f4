"""reload_not_applied: a DDL or reload request with no confirmed schema cache load in time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from runbook.events import EVENT_SCHEMA
from runbook.watch.reload_path import ReloadPath
from tests.watch.conftest import ROOT, Receiver, cli

T0 = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)


def events(*rows: tuple[float, str]) -> pl.DataFrame:
    """(seconds after T0, kind) rows as an event table."""
    data = [
        {**dict.fromkeys(EVENT_SCHEMA), "ts": T0 + timedelta(seconds=s), "kind": kind, "level": "info",
         "table": "members" if kind == "migration" else None, "detail": "ADD COLUMN" if kind == "migration" else None}
        for s, kind in rows
    ]
    return pl.DataFrame(data, schema=EVENT_SCHEMA)


def test_load_in_time_is_fine_in_any_read_order() -> None:
    path = ReloadPath(60)
    path.add(events((0, "startup"), (40, "cache_load")))  # PostgREST's stderr read first
    path.add(events((30, "migration"), (500, "other")))  # then the database log
    assert path.late() is None


def test_no_load_after_the_deadline_is_late() -> None:
    path = ReloadPath(60)
    path.add(events((0, "startup"), (10, "migration")))
    assert path.late() is None  # the deadline has not passed in log time yet
    path.add(events((71, "other")))
    late = path.late()
    assert late is not None and late.ts == T0 + timedelta(seconds=10) and late.confirmed_at is None
    assert "members" in late.what


def test_a_late_load_is_reported_with_it() -> None:
    path = ReloadPath(60)
    path.add(events((0, "startup"), (10, "cache_reload"), (300, "cache_load")))
    late = path.late()
    assert late is not None and late.confirmed_at == T0 + timedelta(seconds=300)
    assert path.late(after=late.ts) is None


def test_without_postgrest_lines_nothing_is_judged() -> None:
    path = ReloadPath(60)
    path.add(events((10, "migration"), (1000, "other")))
    assert path.late() is None


def test_recorded_stale_cache_pages_reload_not_applied_then_resolves(tmp_path: Path, receiver: Receiver) -> None:
    done = cli("watch", str(ROOT / "sample_logs" / "stale-cache"), "--once", "--state", str(tmp_path),
               "--notify", receiver.url + "/hook")
    assert done.returncode == 0, done.stderr
    reload = [r.json() for r in receiver.delivered() if r.json()["alerts"][0]["labels"]["alertname"] == "ReloadNotApplied"]
    assert [b["status"] for b in reload] == ["firing", "resolved"]
    assert reload[0]["alerts"][0]["labels"]["verdict"] == "reload_not_applied"
    assert "ADD COLUMN members.telegram_handle" in reload[0]["alerts"][0]["annotations"]["summary"]
    before = len(receiver.delivered())
    again = cli("watch", str(ROOT / "sample_logs" / "stale-cache"), "--once", "--state", str(tmp_path),
                "--notify", receiver.url + "/hook")
    assert again.returncode == 0, again.stderr
    assert len(receiver.delivered()) == before, "a restart tells nothing twice"


def test_reload_in_the_same_second_is_not_late(tmp_path: Path, receiver: Receiver) -> None:
    done = cli("watch", str(ROOT / "sample_logs" / "mypoolr"), "--once", "--state", str(tmp_path),
               "--notify", receiver.url + "/hook")
    assert done.returncode == 0, done.stderr
    names = {r.json()["alerts"][0]["labels"]["alertname"] for r in receiver.delivered()}
    # mypoolr's writes go on after a confirmed load (a client mismatch): that alerts, a late
    # reload does not
    assert names == {"PGRST204", "PGRST204AfterSchemaReload"}
