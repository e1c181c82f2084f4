"""The scanner on hostile and awkward inputs: nothing crashes, nothing is lost or double counted."""

from __future__ import annotations

import bz2
import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest
import zstandard

from runbook.ingest.scan import ScanOptions, scan_paths

BODY = (
    '{{"code":"PGRST204","details":null,"hint":null,'
    "\"message\":\"Could not find the '{col}' column of '{table}' in the schema cache\"}}"
)


def error_line(minute: int, col: str = "adminname", table: str = "mypoolr") -> str:
    return f"2026-11-18T09:{minute:02d}:00Z ERROR insert failed: " + BODY.format(
        col=col, table=table
    )


def noise(n: int) -> str:
    return "".join(f"2026-11-18T08:00:00Z INFO GET /health 200 req={i}\n" for i in range(n))


def scan_one(path: Path, **opts) -> tuple[list[dict], dict]:
    result = scan_paths([str(path)], ScanOptions(**opts))
    return result.events.to_dicts(), result.stats()


def test_finds_errors_among_noise_with_exact_line_numbers(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(noise(1000) + error_line(1) + "\n" + noise(10) + error_line(2) + "\n")
    events, stats = scan_one(log)
    assert [e["line_no"] for e in events] == [1001, 1012]
    assert stats["lines_read"] == 1012
    assert {(e["table"], e["column"]) for e in events} == {("mypoolr", "adminname")}


@pytest.mark.parametrize("chunk", [64, 100, 333, 4096])
def test_chunk_boundaries_change_nothing(tmp_path: Path, chunk: int) -> None:
    log = tmp_path / "app.log"
    text = "".join(noise(3) + error_line(m) + "\n" for m in range(20))
    log.write_text(text)
    events, stats = scan_one(log, chunk_bytes=chunk)
    reference, _ = scan_one(log)
    assert [e["line_no"] for e in events] == [e["line_no"] for e in reference]
    assert len(events) == 20 and stats["lines_read"] == 80


def test_crlf_invalid_utf8_and_missing_final_newline(tmp_path: Path) -> None:
    log = tmp_path / "win.log"
    log.write_bytes(
        b"garbage \xff\xfe here PGRST\r\n"
        + error_line(1).encode()
        + b"\r\n"
        + error_line(2).encode()
    )
    events, stats = scan_one(log)
    assert len([e for e in events if e["column"] == "adminname"]) == 2
    assert all(not e["raw"].endswith("\r") for e in events)
    assert stats["invalid_utf8_lines"] == 1
    assert stats["lines_read"] == 3


def test_a_very_long_line(tmp_path: Path) -> None:
    log = tmp_path / "long.log"
    log.write_text(error_line(1) + " " + "x" * 3_000_000 + "\n" + error_line(2) + "\n")
    events, _ = scan_one(log, chunk_bytes=1 << 20)
    assert [e["line_no"] for e in events if e["column"] == "adminname"] == [1, 2]
    assert len(events[0]["raw"]) <= 4000  # stored truncated, never the whole megabytes


def test_empty_file_and_unreadable_file_among_good_ones(tmp_path: Path) -> None:
    (tmp_path / "empty.log").write_text("")
    (tmp_path / "good.log").write_text(error_line(1) + "\n")
    locked = tmp_path / "locked.log"
    locked.write_text(error_line(2) + "\n")
    locked.chmod(0)
    if os.access(locked, os.R_OK):  # root reads anything: make it unreadable another way
        locked.unlink()
        locked.mkdir()
        (locked / "inner.log").write_text(error_line(3) + "\n")
        os.symlink(tmp_path / "missing-target", tmp_path / "dangling.log")
    result = scan_paths([str(tmp_path), str(tmp_path / "nope.log")], ScanOptions())
    stats = result.stats()
    names = [u["source"] for u in stats["unreadable"]]
    assert any(n.endswith("nope.log") for n in names)
    assert any("dangling" in n or "locked" in n for n in names)
    assert result.events.filter(result.events["column"] == "adminname").height >= 1


@pytest.mark.parametrize(
    "compress",
    [gzip.compress, bz2.compress, lambda b: zstandard.ZstdCompressor().compress(b)],
    ids=["gz", "bz2", "zst"],
)
def test_compressed_inputs_by_magic_not_name(tmp_path: Path, compress) -> None:
    log = tmp_path / "rotated.log.1"
    log.write_bytes(compress((noise(5) + error_line(7) + "\n").encode()))
    events, stats = scan_one(log)
    assert [e["line_no"] for e in events] == [6]


def test_stdin(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "runbook", "scan", "-", "--format", "json"],
        input=(noise(2) + error_line(3) + "\n").encode(),
        capture_output=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, proc.stderr
    assert b'"column": "adminname"' in proc.stdout
    assert b'"sources": [\n        "-"' in proc.stdout


def test_hostile_names_keep_exact_case_and_characters(tmp_path: Path) -> None:
    names = [
        ("Admin Name", "My Table"),
        ("it's", "t"),
        ("naïve.col", "s.t"),
        ('x\\"; DROP TABLE y; --', "z"),
    ]
    log = tmp_path / "h.log"
    log.write_text("\n".join(error_line(i, c, t) for i, (c, t) in enumerate(names)) + "\n")
    events, _ = scan_one(log)
    found = [(e["column"], e["table"]) for e in events]
    assert ("Admin Name", "My Table") in found
    assert ("it's", "t") in found
    assert ("naïve.col", "s.t") in found
    assert ('x"; DROP TABLE y; --', "z") in found


def test_secrets_in_lines_are_redacted(tmp_path: Path) -> None:
    log = tmp_path / "s.log"
    log.write_text(
        error_line(1) + " apikey=eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.sig123456 "
        "dsn=postgresql://app:hunter2@db:5432/app\n"
    )
    events, _ = scan_one(log)
    assert "hunter2" not in events[0]["raw"] and "eyJyb2xl" not in events[0]["raw"]


def test_since_until_filter(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    log = tmp_path / "a.log"
    log.write_text("\n".join(error_line(m) for m in range(10)) + "\n")
    events, _ = scan_one(
        log,
        since=datetime(2026, 11, 18, 9, 3, tzinfo=UTC),
        until=datetime(2026, 11, 18, 9, 6, tzinfo=UTC),
    )
    assert [e["ts"].minute for e in events] == [3, 4, 5]


def test_parallel_ranges_give_the_same_events_as_one_pass(tmp_path: Path, monkeypatch) -> None:
    import runbook.ingest.parallel as parallel

    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(parallel, "PARALLEL_FILE_BYTES", 1)
    monkeypatch.setattr(parallel, "workers", lambda: 2)
    log = tmp_path / "big.log"
    log.write_text("".join(noise(997) + error_line(m % 60) + "\n" for m in range(40)))
    one, stats_one = scan_one(log, parallel=False)
    many, stats_many = scan_one(log, parallel=True)
    assert [e["line_no"] for e in many] == [e["line_no"] for e in one]
    assert stats_many["lines_read"] == stats_one["lines_read"] == 40 * 998


def test_parallel_ranges_never_cut_a_record(tmp_path: Path) -> None:
    from parsers.registry import BY_NAME
    from runbook.ingest.parallel import plan_ranges

    log = tmp_path / "bot.log"
    record = (
        "2026-11-18 09:15:01,223 ERROR bot: insert failed\n"
        "Traceback (most recent call last):\n"
        '  File "/app/bot.py", line 88, in create\n'
        "    res = q.execute()\n"
        "postgrest.exceptions.APIError: {'code': 'PGRST204', 'details': None, 'hint': None, "
        "'message': \"Could not find the 'adminname' column of 'mypoolr' in the schema cache\"}\n"
    )
    log.write_text(record * 500)
    size = log.stat().st_size
    fmt = BY_NAME["python_logging"]
    cuts = [a for a, _ in plan_ranges(str(log), size, 7, fmt)]
    data = log.read_bytes()
    assert len(cuts) > 1
    for cut in cuts:
        assert data[cut:].startswith(b"2026-11-18"), data[cut : cut + 40]
