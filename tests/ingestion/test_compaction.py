"""A long follow folds old failed requests into per-minute rows and still counts exactly."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from runbook.incidents.compaction import compact
from runbook.incidents.grouping import group_incidents, pgrst204_requests
from runbook.incidents.live import IncidentTracker
from runbook.ingest.scan import ScanOptions, scan_paths

BODY = (
    "{{'code': 'PGRST204', 'details': None, 'hint': None, "
    "'message': \"Could not find the '{col}' column of '{table}' in the schema cache\"}}"
)
START = datetime(2026, 11, 18, 6, 0, tzinfo=UTC)


def hours_of_logs(folder: Path, hours: int = 3) -> pl.DataFrame:
    """Events of app JSON lines (with request ids, some logged twice), PostgREST access and
    stderr lines (a reload and a load in the middle) over `hours`."""
    rng = random.Random(5)
    app, access, stderr = [], [], []
    for n in range(hours * 1800):  # one failure every 2 s
        at = START + timedelta(seconds=2 * n + rng.randint(0, 1))
        table, col, path = rng.choice(
            [("mypoolr", "adminname", "/mypoolr"), ("members", "telegram_handle", "/members"),
             ("members", "telegram_handle", "/members?on_conflict=id")]
        )
        record = {"timestamp": at.isoformat().replace("+00:00", "Z"), "level": "error",
                  "event": "insert failed", "request_id": f"req-{n}", "method": "POST",
                  "path": path, "error": {"code": "PGRST204", "details": None, "hint": None,
                  "message": f"Could not find the '{col}' column of '{table}' in the schema cache"}}
        app.append(json.dumps(record))
        if n % 7 == 0:  # the same request logged again a second later (a retry wrapper)
            again = dict(record, timestamp=(at + timedelta(seconds=1)).isoformat().replace("+00:00", "Z"))
            app.append(json.dumps(again))
        stamp = at.strftime("%d/%b/%Y:%H:%M:%S +0000")
        access.append(f'10.0.0.{n % 9} - web_anon [{stamp}] "POST {path} HTTP/1.1" 400 139 "" "postgrest-py"')
    middle = (START + timedelta(hours=hours / 2)).strftime("%d/%b/%Y:%H:%M:%S +0000")
    stderr.append(f'{middle}: Received a schema cache reload message on the "pgrst" channel')
    stderr.append(f"{middle}: Schema cache loaded 15 Relations, 8 Relationships, 8 RPCs, "
                  "0 Domain Representations, 4 Media Type Handlers")
    (folder / "app.jsonl").write_text("\n".join(app) + "\n")
    (folder / "access.log").write_text("\n".join(access) + "\n")
    (folder / "stderr.log").write_text("\n".join(stderr) + "\n")
    return scan_paths([str(folder)], ScanOptions(parallel=False)).events


def test_folded_requests_count_as_the_lines_they_replace(tmp_path: Path) -> None:
    events = hours_of_logs(tmp_path)
    whole = [incident.to_dict() for incident in group_incidents(events)]
    folded = compact(events, START + timedelta(hours=2, minutes=50))
    requests = pgrst204_requests(events).height
    assert pgrst204_requests(folded).height < requests / 4, "three pairs, one row a minute each"
    assert [incident.to_dict() for incident in group_incidents(folded)] == whole
    assert whole[0]["count"] + whole[1]["count"] == 3 * 1800  # duplicates of a request counted once


def test_a_long_follow_stays_small_and_exact(tmp_path: Path) -> None:
    events = hours_of_logs(tmp_path)
    whole = [incident.to_dict() for incident in group_incidents(events)]
    tracker = IncidentTracker(compact_rows=500)
    sizes = []
    for batch in events.iter_slices(200):  # what follow hands over, a batch at a time
        tracker.add(batch)
        sizes.append(tracker.events.height)
    assert [incident.to_dict() for incident in tracker.incidents()] == whole
    # Bounded by the minutes of the run, not the requests: fewer rows than were read.
    assert max(sizes) < events.height * 0.7, (max(sizes), events.height)
    assert pgrst204_requests(tracker.events).height < pgrst204_requests(events).height / 3
    assert tracker.events.filter(pl.col("weight").is_not_null()).height > 0


def test_the_report_of_folded_events_gives_the_same_impact(tmp_path: Path) -> None:
    from runbook.ingest.scan import document
    from runbook.report.incident_report import build_report

    events = hours_of_logs(tmp_path)
    result = scan_paths([str(tmp_path)], ScanOptions(parallel=False))
    doc = document(result)
    now = datetime(2026, 11, 18, 12, tzinfo=UTC)
    whole = build_report(doc, events=events, now=now).to_dict()["impact"]
    folded = compact(events, START + timedelta(hours=2, minutes=50))
    assert folded.height < events.height
    assert build_report(doc, events=folded, now=now).to_dict()["impact"] == whole
    assert whole["writes_in_access_log"] > 0
