"""The one-shot scan folds as it reads: the same document as over every line, in rows that
follow the distinct times, not the lines."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from runbook.incidents.compaction import fold
from runbook.ingest.scan import ScanOptions, ScanResult, document, scan_paths
from tests.ingestion.test_compaction import hours_of_logs

START = datetime(2026, 11, 18, 6, 0, tzinfo=UTC)
PAIRS = [("adminname", "mypoolr"), ("telegram_handle", "members"), ("doseLogs", "patients")]
BODY = (
    "{{'code': 'PGRST204', 'details': None, 'hint': None, "
    "'message': \"Could not find the '{col}' column of '{table}' in the schema cache\"}}"
)


def hours(folder: Path, copies: int = 1, hours: int = 4) -> list[str]:
    """App text logs with tracebacks, JSON lines (no request ids) and a PostgREST access and
    stderr log over `hours`, three tables, a reload and a load in the middle; each log holds
    its hours `copies` times over (the same minutes again: more lines, no new times)."""
    rng = random.Random(11)
    app, lines, access = [], [], []
    for n in range(hours * 720):  # one record every 5 s
        at = START + timedelta(seconds=5 * n, milliseconds=rng.randint(0, 999))
        col, table = rng.choice(PAIRS)
        if rng.random() < 0.5:
            app.append(f"{at:%Y-%m-%d %H:%M:%S},{at.microsecond // 1000:03d} ERROR bot: insert failed")
            app.append("Traceback (most recent call last):")
            app.append('  File "/app/bot/handlers.py", line 88, in create')
            app.append("postgrest.exceptions.APIError: " + BODY.format(col=col, table=table))
        else:
            app.append(f"{at:%Y-%m-%d %H:%M:%S},{at.microsecond // 1000:03d} INFO bot: update handled")
            lines.append(json.dumps({"timestamp": at.isoformat().replace("+00:00", "Z"), "level": "error",
                                     "event": "insert failed", "error_code": "PGRST204",
                                     "table": table, "column": col}))
        stamp = at.strftime("%d/%b/%Y:%H:%M:%S +0000")
        method, status = rng.choice([("POST", 400), ("GET", 200), ("PATCH", 204), ("GET", 404)])
        access.append(f'10.0.0.{n % 9} - web_anon [{stamp}] "{method} /{table}?select=id HTTP/1.1" '
                      f'{status} 139 "" "postgrest-py"')
    middle = START + timedelta(hours=hours / 2, seconds=2.5)
    stderr = [
        f'{middle:%d/%b/%Y:%H:%M:%S} +0000: Received a schema cache reload message on the "pgrst" channel',
        f"{middle:%d/%b/%Y:%H:%M:%S} +0000: Schema cache loaded 15 Relations, 8 Relationships, 8 RPCs, "
        "0 Domain Representations, 4 Media Type Handlers",
    ]
    names = []
    for name, body in [("app.log", app), ("app.jsonl", lines), ("access.log", access), ("stderr.log", stderr)]:
        (folder / name).write_text(("\n".join(body) + "\n") * (copies if body is not stderr else 1))
        names.append(str(folder / name))
    return names


def scan(paths: list[str], folded: bool, chunk: int = 64 * 1024) -> ScanResult:
    # small chunks: each file comes in many batches, folded one after another
    return scan_paths(paths, ScanOptions(parallel=False, chunk_bytes=chunk), fold=fold if folded else None)


def test_the_folded_scan_makes_the_document_of_every_line(tmp_path: Path) -> None:
    paths = hours(tmp_path, copies=2)
    whole, folded = scan(paths, False), scan(paths, True)
    assert folded.events.height < 0.6 * whole.events.height
    assert document(folded) == document(whole)
    assert document(folded)["stats"]["events"] == whole.events.height
    assert sum(i["count"] for i in document(whole)["incidents"]) > 2000


def test_the_document_does_not_depend_on_the_order_of_the_files(tmp_path: Path) -> None:
    paths = hours(tmp_path)
    assert document(scan(paths[::-1], True)) == document(scan(paths, False))


def test_requests_logged_twice_with_an_id_count_once_when_folded(tmp_path: Path) -> None:
    hours_of_logs(tmp_path)  # request ids, some logged again a second later
    paths = [str(tmp_path / name) for name in ("stderr.log", "access.log", "app.jsonl")]
    assert document(scan(paths, True)) == document(scan(paths, False))


def test_an_untimed_failure_is_placed_by_the_lines_around_it(tmp_path: Path) -> None:
    paths = hours(tmp_path, hours=1)
    with open(paths[0], "a") as f:  # basicConfig's format: no time; the lines above place it
        f.write("ERROR:bot:insert failed " + BODY.format(col="adminname", table="mypoolr") + "\n")
    whole, folded = document(scan(paths, False)), document(scan(paths, True))
    assert folded == whole
    assert any(i["context"]["untimed_errors"] for i in whole["incidents"])


def test_the_held_rows_do_not_grow_with_the_lines_of_the_same_minutes(tmp_path: Path) -> None:
    small, large = tmp_path / "small", tmp_path / "large"
    small.mkdir()
    large.mkdir()
    # Rows: one per distinct time and what it names, and each incident's first lines (its
    # samples: from six copies on, all copies of its first request).
    six, twelve = scan(hours(small, copies=6, hours=2), True), scan(hours(large, copies=12, hours=2), True)
    assert twelve.events_read is not None and six.events_read is not None
    assert twelve.events_read > 1.9 * six.events_read
    assert twelve.events.height == six.events.height < six.events_read / 4
    counts = {i["table"]: i["count"] for i in document(six)["incidents"]}
    assert {i["table"]: i["count"] for i in document(twelve)["incidents"]} == {
        table: 2 * count for table, count in counts.items()
    }
