"""One event PostgreSQL logged to stderr, csvlog and jsonlog at once is one event.

The three files are one real PostgreSQL 15 server's output with `log_destination =
'stderr,csvlog,jsonlog'` (tests/parsers/fixtures/postgres/capture.py). The client line is
postgrest-py's `APIError` as Python logging prints it (reference/client-logs.md), still sending
the column the migration renamed.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from runbook.ingest.scan import ScanResult, document, scan_paths
from runbook.report.incident_report import build_report

PG = Path(__file__).resolve().parents[1] / "parsers/fixtures/postgres"
DESTINATIONS = ("pg15.log", "pg15.csv", "pg15.json")
CLIENT = (
    "2026-11-25 13:18:10,412 ERROR pools.api: rename_pool failed: {'code': 'PGRST204', "
    "'details': None, 'hint': None, 'message': \"Could not find the 'name' column of 'mypoolr' "
    'in the schema cache"}\n'
)


def scan(folder: Path, names: tuple[str, ...]) -> tuple[dict[str, Any], ScanResult]:
    folder.mkdir()
    for name in names:
        shutil.copy(PG / name, folder / name)
    (folder / "app.log").write_text(CLIENT, encoding="utf-8")
    result = scan_paths([str(folder)])
    return document(result), result


def related(doc: dict[str, Any]) -> dict[tuple[str, str | None, str | None], dict[str, Any]]:
    return {(r["code"], r["table"], r["column"]): r for r in doc["related"]}


@pytest.mark.parametrize("one", DESTINATIONS)
def test_three_destinations_count_as_one(tmp_path: Path, one: str) -> None:
    alone, _ = scan(tmp_path / "one", (one,))
    every, _ = scan(tmp_path / "all", DESTINATIONS)
    counts = {k: r["count"] for k, r in related(alone).items()}
    assert counts[("42703", "mypoolr", "adminname")] == 4  # INSERT, SELECT p.x, SELECT x, verbose INSERT
    assert {k: r["count"] for k, r in related(every).items()} == counts
    for group in every["related"]:
        assert [Path(s).name for s in group["sources"]] == sorted(DESTINATIONS)

    (inc_alone,) = alone["incidents"]
    (inc_every,) = every["incidents"]
    assert len(inc_every["context"]["renames"]) == len(inc_alone["context"]["renames"]) == 1
    assert len(inc_every["context"]["migrations"]) == len(inc_alone["context"]["migrations"])
    for ref in inc_every["context"]["migrations"]:
        assert sorted(Path(s).name for s in ref["seen_in"]) == sorted(DESTINATIONS)


def test_the_report_timeline_lists_a_rename_once_with_every_source(tmp_path: Path) -> None:
    doc, result = scan(tmp_path / "all", DESTINATIONS)
    report = build_report(doc, events=result.events)
    renames = [r for r in report.timeline if r["event"].startswith("Migration renames column")]
    assert len(renames) == 1
    (row,) = renames
    shown = Path(row["source"].rsplit(":", 1)[0]).name
    also = row["event"].split("; also logged in ", 1)[1].split(", ")
    assert sorted(Path(s).name for s in also) == sorted(set(DESTINATIONS) - {shown})
    assert report.impact["related"][0]["count"] == 4
