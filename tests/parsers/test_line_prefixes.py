"""Collector and logger prefixes: stripped for the record rules, read for the line's time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from parsers.generic import BODY
from parsers.line_prefixes import prefix_time, strip
from runbook.ingest.scan import ScanOptions, document, scan_paths

PREFIXED = [
    ("2026-11-22T10:20:05.123456789Z stderr F ", "cri"),
    ("2026-11-22T10:20:05.123456789Z stdout P ", "cri-partial"),
    ("2026-11-22T10:20:05.1234Z ", "kubectl-timestamps"),
    ("<163>1 2026-11-22T10:20:05.123+01:00 web-1 api 4242 DB - ", "rfc5424"),
    ("<163>1 - web-1 api - - [a@1 x=\"\\]\"][b@2] ", "rfc5424-sd"),  # `]` escaped (RFC 5424 6.3.3)
    ("<13>Nov 22 10:20:05 web-1 api[4242]: ", "rfc3164-pri"),
    ("Nov  2 10:20:05 web-1 api: ", "rfc3164"),
    ("Nov 22 10:20:05.123456 web-1 api[4242]: ", "journald-short-precise"),
    ("2026-11-22T10:20:05+0100 web-1 api[4242]: ", "journald-short-iso"),
    ("2026/11/22 10:20:05 ", "go-log"),
    ("E, [2026-11-22T10:20:05.123456 #4242] ERROR -- : ", "rails"),
    ("api-1  | ", "compose"),
    ("api-1  | 2026-11-22T10:20:05.123456789Z ", "compose-timestamps"),
    ("0|bot  | ", "pm2"),
]


@pytest.mark.parametrize(("prefix", "name"), PREFIXED, ids=[n for _, n in PREFIXED])
@pytest.mark.parametrize("body", ["insert failed {", "  code: 'PGRST204',"])
def test_prefix_is_stripped_to_the_applications_text(prefix: str, name: str, body: str) -> None:
    assert strip(prefix + body) == body


@pytest.mark.parametrize(
    ("line", "body"),
    [
        # a Node `toISOString()` stamp ends in Z: a time, never a journald host and tag
        ("2026-11-18T09:15:04.000Z upsert result: {", "upsert result: {"),
        ("insert failed {", "insert failed {"),
        ("ERROR:bot:x", "ERROR:bot:x"),
        ("    at insert (/app/db.js:10:9)", "    at insert (/app/db.js:10:9)"),
        ("2026-11-18 09:15:01,223 ERROR bot: x", "2026-11-18 09:15:01,223 ERROR bot: x"),
    ],
)
def test_application_text_is_not_taken_for_a_prefix(line: str, body: str) -> None:
    assert strip(line) == body


def test_rfc3164_takes_the_current_year_unless_that_is_the_future() -> None:
    now = datetime.now(UTC)
    past = now - timedelta(days=3)
    ahead = now + timedelta(days=3)  # a line "from the future" was written last year
    lines = [f"{t:%b} {t.day:2d} {t:%H:%M:%S} web-1 api[1]: x" for t in (past, ahead)]
    times = pl.select(prefix_time(pl.Series(lines))).to_series().to_list()
    assert times[0] == past.replace(microsecond=0)
    assert times[1].year == ahead.year - 1
    assert (times[1].month, times[1].day, times[1].hour) == (ahead.month, ahead.day, ahead.hour)


def test_rfc3164_naive_time_is_read_in_the_given_zone() -> None:
    (ts,) = pl.select(prefix_time(pl.Series(["Nov 22 10:20:05 h a: x"]), "Asia/Kolkata")).to_series()
    assert (ts.month, ts.day, ts.hour, ts.minute) == (11, 22, 4, 50)


def test_a_go_service_log_has_a_first_seen(tmp_path: Path) -> None:
    path = tmp_path / "api.log"
    path.write_text(
        "2026/11/22 10:19:58 listening on :8080\n"
        f"2026/11/22 10:20:05 insert member: {BODY}\n"
        f"2026/11/22 10:21:07 insert member: {BODY}\n"
    )
    (incident,) = document(scan_paths([str(path)], ScanOptions(tz="Europe/Berlin")))["incidents"]
    assert (incident["table"], incident["column"], incident["count"]) == ("members", "tg", 2)
    assert incident["first_seen"] == "2026-11-22T09:20:05+00:00"
    assert incident["last_seen"] == "2026-11-22T09:21:07+00:00"


def test_a_util_inspect_object_under_cri_is_one_event_with_its_first_lines_time(tmp_path: Path) -> None:
    lines = [
        "2026-11-22T10:20:01.000000001Z stdout F worker started",
        "2026-11-22T10:20:05.500000000Z stderr F insert failed {",
        "2026-11-22T10:20:05.500100000Z stderr F   code: 'PGRST204',",
        "2026-11-22T10:20:05.500200000Z stderr F   details: null,",
        "2026-11-22T10:20:05.500300000Z stderr F   hint: null,",
        "2026-11-22T10:20:05.500400000Z stderr F   message: \"Could not find the 'tg' column of "
        "'members' in the schema cache\"",
        "2026-11-22T10:20:05.500500000Z stderr F }",
    ]
    path = tmp_path / "0.log"
    path.write_text("\n".join(lines) + "\n")
    result = scan_paths([str(path)])
    assert result.stats()["formats"] == {"node_console": 1}
    named = result.events.filter(pl.col("table").is_not_null())
    assert named.select("record_no", "ts", "column").rows() == [
        (2, datetime(2026, 11, 22, 10, 20, 5, 500000, tzinfo=UTC), "tg")
    ]
    assert result.events.filter(pl.col("code") == "PGRST204").height == 1
