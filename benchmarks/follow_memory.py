"""Memory of a long follow: the live incident table over hours of failures, folded and not.

    python benchmarks/follow_memory.py [--hours 6] [--per-second 20]

Generates --hours of application JSON lines with --per-second PGRST204 failures (three
table/column pairs, request ids, a schema cache load every hour) plus PostgREST access lines,
scans them once, then feeds the events to the live tracker (`IncidentTracker`, what follow,
replay and `watch` use) in batches of one second of logs, as a follow would. It prints, per
hour of logs, the rows the tracker holds and the estimated size of its table, with folding on
(the default) and off (everything kept), and checks that both give the same incidents.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from runbook.incidents.grouping import group_incidents
from runbook.incidents.live import IncidentTracker
from runbook.ingest.scan import ScanOptions, scan_paths

START = datetime(2026, 11, 18, 0, 0, tzinfo=UTC)
PAIRS = [("mypoolr", "adminname"), ("members", "telegram_handle"), ("patients", "doseLogs")]


def generate(folder: Path, hours: int, per_second: int) -> None:
    rng = random.Random(3)
    with (folder / "app.jsonl").open("w") as app, (folder / "access.log").open("w") as access:
        for second in range(hours * 3600):
            at = START + timedelta(seconds=second)
            for k in range(per_second):
                table, col = rng.choice(PAIRS)
                stamp = (at + timedelta(milliseconds=k)).isoformat().replace("+00:00", "Z")
                app.write(json.dumps({
                    "timestamp": stamp, "level": "error", "event": "insert failed",
                    "request_id": f"req-{second}-{k}", "method": "POST", "path": f"/{table}",
                    "error": {"code": "PGRST204", "details": None, "hint": None, "message":
                              f"Could not find the '{col}' column of '{table}' in the schema cache"},
                }) + "\n")
                access.write(f'10.0.0.{k % 9} - web_anon [{at.strftime("%d/%b/%Y:%H:%M:%S +0000")}] '
                             f'"POST /{table} HTTP/1.1" 400 139 "" "postgrest-py"\n')
    with (folder / "stderr.log").open("w") as stderr:
        for hour in range(1, hours):
            stamp = (START + timedelta(hours=hour)).strftime("%d/%b/%Y:%H:%M:%S +0000")
            stderr.write(f"{stamp}: Schema cache loaded 15 Relations, 8 Relationships, 8 RPCs, "
                         "0 Domain Representations, 4 Media Type Handlers\n")


def follow(events, compact_rows: int) -> tuple[list[tuple[int, int, float]], list, float]:
    """(hour, rows, MiB) after each hour of logs; the final incidents; seconds taken."""
    tracker = IncidentTracker(compact_rows=compact_rows)
    marks: list[tuple[int, int, float]] = []
    started = time.perf_counter()
    seconds = events["ts"].dt.epoch("s")
    first = int(seconds.min())
    hour_of = ((seconds - first) // 3600).to_list()
    last_hour = -1
    for offset in range(0, events.height, 2000):
        batch = events.slice(offset, 2000)
        tracker.add(batch)
        hour = hour_of[min(offset + 1999, events.height - 1)]
        if hour != last_hour:
            table = tracker.events
            tracker.incidents()
            marks.append((hour, table.height, table.estimated_size("mb")))
            last_hour = hour
    incidents = [i.to_dict() for i in tracker.incidents()]
    table = tracker.events
    marks.append((last_hour + 1, table.height, table.estimated_size("mb")))
    return marks, incidents, time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=int, default=6)
    ap.add_argument("--per-second", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        generate(folder, args.hours, args.per_second)
        events = scan_paths([str(folder)], ScanOptions()).events
    print(f"{events.height:,} events over {args.hours} h ({args.per_second} failures/s)")
    folded, got, t_folded = follow(events, compact_rows=20_000)
    kept, want, t_kept = follow(events, compact_rows=1 << 62)
    assert got == want == [i.to_dict() for i in group_incidents(events)], "folding changed a count"
    print(f"{'hour':>4}  {'rows folded':>11}  {'MiB folded':>10}  {'rows kept':>10}  {'MiB kept':>8}")
    for (hour, rows_f, mib_f), (_, rows_k, mib_k) in zip(folded, kept, strict=False):
        print(f"{hour:>4}  {rows_f:>11,}  {mib_f:>10.1f}  {rows_k:>10,}  {mib_k:>8.1f}")
    print(f"time: folded {t_folded:.1f} s, kept {t_kept:.1f} s; incidents identical")


if __name__ == "__main__":
    main()
