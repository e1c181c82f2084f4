"""One event PostgreSQL logged to stderr, csvlog and jsonlog at once is one event.

The three files are one real PostgreSQL 15 server's output with `log_destination =
'stderr,csvlog,jsonlog'` (tests/parsers/fixtures/postgres/capture.py). The client line is
postgrest-py's `APIError` as Python logging prints it (reference/client-logs.md), still sending
the column the migration renamed.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import polars as pl
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


def test_two_sessions_with_the_same_error_at_once_stay_two(tmp_path: Path) -> None:
    """Two backends that raise the same 42703 in the same millisecond are two events, though
    one is logged to csvlog and the other to jsonlog: the pid tells them apart. The stderr
    copy carries `[%p]` in its prefix and folds with the session it names."""
    folder = tmp_path / "two"
    folder.mkdir()
    shutil.copy(PG / "pg15.log", folder / "pg15.log")
    shutil.copy(PG / "pg15.csv", folder / "pg15.csv")
    other = (PG / "pg15.json").read_text(encoding="utf-8").replace('"pid":31615,', '"pid":31699,')
    assert '"pid":31699,' in other
    (folder / "pg15.json").write_text(other, encoding="utf-8")
    result = scan_paths([str(folder)])
    doc = document(result)
    group = related(doc)[("42703", "mypoolr", "adminname")]
    # Session 31615's three errors (stderr and csvlog), the same three of 31699 (jsonlog), and
    # session 31618's one, which all three destinations logged with its pid.
    assert group["count"] == 7
    assert sorted(Path(s).name for s in group["sources"]) == sorted(DESTINATIONS)
    assert set(result.events.filter(pl.col("code") == "42703")["pid"].to_list()) == {"31615", "31618", "31699"}


def test_a_line_without_a_pid_folds_with_the_session_that_logged_it(tmp_path: Path) -> None:
    """A stderr prefix without `%p` (`%m `) says nothing of the session: it folds with the
    csvlog copy of the same error."""
    folder = tmp_path / "nopid"
    folder.mkdir()
    shutil.copy(PG / "pg15.csv", folder / "pg15.csv")
    stderr = (PG / "pg15.log").read_text(encoding="utf-8")
    (folder / "pg15.log").write_text(re.sub(r" \[\d+\] ", " ", stderr), encoding="utf-8")
    alone = related(document(scan_paths([str(PG / "pg15.csv")])))
    both = related(document(scan_paths([str(folder)])))
    assert both[("42703", "mypoolr", "adminname")]["count"] == alone[("42703", "mypoolr", "adminname")]["count"]
