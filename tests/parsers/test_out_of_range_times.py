"""Times no real log has (years 0000, 0001, 9999; epochs like 9e18): a counted, skipped line in
every format and every command that reads logs, never an exception or a polars panic."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from parsers.registry import FORMATS
from runbook.ingest.scan import ScanOptions, scan_paths
from runbook.ingest.scanner import SourceScanner

REPO = Path(__file__).resolve().parents[2]
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ACCESS_DATE = re.compile(r"\d{2}/[A-Z][a-z]{2}/\d{4}")
BAD_YEARS = ("9999", "0001", "0000")
MESSAGE = "Could not find the 'adminname' column of 'mypoolr' in the schema cache"
EPOCHS = ("9000000000000000000", "-9000000000000000000", "1e300", "-1e300")


def with_year(lines: tuple[str, ...], year: str) -> tuple[str, ...] | None:
    """The sample with every date moved to `year`; None when it carries no date."""
    text = "\n".join(lines)
    moved = DATE.sub(lambda m: year + m.group(0)[4:], text)
    moved = ACCESS_DATE.sub(lambda m: m.group(0)[:7] + year, moved)
    return None if moved == text else tuple(moved.split("\n"))


def dated_cases() -> list:
    cases = []
    for fmt in FORMATS:
        for i, sample in enumerate(fmt.samples):
            if "ts" not in sample.expect or sample.expect["ts"] == "None":
                continue
            for year in BAD_YEARS:
                lines = with_year(sample.lines, year)
                if lines is not None:
                    cases.append(pytest.param(fmt, lines, id=f"{fmt.name}-{i}-{year}"))
    return cases


def scanned(fmt, lines: tuple[str, ...]) -> tuple[pl.DataFrame, int]:
    data = ("\n".join(lines) + "\n").encode()
    scanner = SourceScanner("sample", fmt)
    if fmt.whole_file:
        events = scanner.document(data)
    else:
        events = pl.concat([scanner.feed(data), scanner.finish()])
    return events, scanner.stats.lines_skipped


@pytest.mark.parametrize(("fmt", "lines"), dated_cases())
def test_a_sample_moved_to_an_impossible_year_is_a_skipped_line(fmt, lines) -> None:
    events, skipped = scanned(fmt, lines)
    timed = events.filter(pl.col("ts").is_not_null())
    assert timed.height == 0, timed.to_dicts()
    assert skipped >= 1
    events.to_dicts()  # the rows that remain convert to Python (no year-0 datetime inside)


def test_every_format_is_covered_by_a_dated_sample() -> None:
    covered = {case.values[0].name for case in dated_cases()}
    dated = {fmt.name for fmt in FORMATS if any("ts" in s.expect and s.expect["ts"] != "None"
                                                 for s in fmt.samples)}
    assert covered == dated and len(covered) >= 8


@pytest.mark.parametrize("value", EPOCHS)
def test_epoch_far_out_of_range(tmp_path: Path, value: str) -> None:
    path = tmp_path / "pino.log"
    path.write_text(
        '{"level":50,"time":1795338881902,"msg":"' + MESSAGE.replace("'", "'") + '"}\n'
        '{"level":50,"time":' + value + ',"msg":"' + MESSAGE + '"}\n'
    )
    result = scan_paths([str(path)], ScanOptions())
    stats = result.stats()
    assert result.events.height == 1
    assert result.events["ts"].dt.year().to_list() == [2026]
    assert stats["lines_skipped"] == 1


def hostile_log(tmp_path: Path) -> Path:
    path = tmp_path / "hostile.log"
    lines = [
        "2026-11-18 09:15:01,223 ERROR bot: {'code': 'PGRST204', 'message': \"" + MESSAGE + "\"}",
        *(f"{year}-12-31 23:59:59,999 ERROR bot: {{'code': 'PGRST204', 'message': \"{MESSAGE}\"}}"
          for year in BAD_YEARS),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runbook", *args], cwd=cwd, capture_output=True, text=True,
        timeout=180, env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "XDG_STATE_HOME": str(cwd),
                          "XDG_CONFIG_HOME": str(cwd), "PYTHONPATH": str(REPO)},
    )


@pytest.mark.parametrize(
    "command",
    [
        ["scan", "--format", "json"],
        ["report", "-o", "report.md"],
        ["run", "--json", "--dsn", "postgresql://nobody@127.0.0.1:1/none", "--logs"],
        ["replay", "--speed", "1000000"],
    ],
    ids=["scan", "report", "run-logs", "replay"],
)
def test_commands_read_impossible_years_without_a_traceback(tmp_path: Path, command: list[str]) -> None:
    log = hostile_log(tmp_path)
    done = cli(*command, str(log), cwd=tmp_path)
    assert "Traceback" not in done.stderr and "panicked" not in done.stderr, done.stderr
    # scan/report/replay succeed on the one good line; run cannot reach its database (exit 4)
    assert done.returncode == (4 if command[0] == "run" else 0), done.stderr
    if command[0] == "scan":
        assert '"lines_skipped": 3' in done.stdout


def test_since_an_age_before_year_one_is_a_usage_error(tmp_path: Path) -> None:
    done = cli("scan", "--since", "99999999999d", str(hostile_log(tmp_path)), cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "before year 1" in done.stderr
