"""Every command that reads logs takes the same reading options, from one place.

With naive timestamps written in another zone, `run --logs` used to read them an hour off and
reach another verdict than `scan --tz ... | run --from-scan`.
"""

from __future__ import annotations

import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runbook.cli import attach_time_values, build_parser
from runbook.commands.common import scan_options, when
from runbook.commands.run_logs import LogContext
from runbook.ingest.scan import ScanOptions, document, scan_paths

READING = [
    "--tz", "Europe/Berlin", "--since", "-5h", "--until", "2030-01-01T00:00:00Z",
    "--input-format", "json_lines", "--format-of", "a.log=generic",
]
COMMANDS = {
    "scan": ["x.log"],
    "report": ["x.log"],
    "tui": ["x.log"],
    "replay": ["x.log"],
    "run": ["--logs", "x.log"],
    "bundle": ["--logs", "x.log", "-o", "out.tar.gz"],
    "watch": ["x.log", "--notify", "exec:cat"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_log_reading_command_takes_the_same_options(command: str) -> None:
    argv = attach_time_values([command, *COMMANDS[command], *READING])
    args = build_parser(command).parse_args(argv)
    options = scan_options(args)
    assert options.tz == "Europe/Berlin"
    assert options.default_format == "json_lines"
    assert options.format_of == {"a.log": "generic"}
    assert options.until == datetime(2030, 1, 1, tzinfo=UTC)
    assert options.since is not None
    age = datetime.now(UTC) - options.since
    assert timedelta(hours=4, minutes=59) < age < timedelta(hours=5, minutes=1)


def test_an_age_reads_with_or_without_a_minus() -> None:
    for text in ("5h", "-5h", "-5 h"):
        age = datetime.now(UTC) - when(text)
        assert timedelta(hours=4, minutes=59) < age < timedelta(hours=5, minutes=1)


def test_a_negative_age_after_a_flag_is_its_value_not_a_flag() -> None:
    assert attach_time_values(["scan", "--since", "-5h", "x"]) == ["scan", "--since=-5h", "x"]
    assert attach_time_values(["scan", "--since", "-v"]) == ["scan", "--since", "-v"]


def test_run_logs_read_naive_times_in_the_zone_given(tmp_path: Path) -> None:
    log = tmp_path / "bot.log"
    log.write_text(
        "2026-11-22 10:20:05,123 ERROR bot.db: insert failed: {'code': 'PGRST204', 'details': "
        "None, 'hint': None, 'message': \"Could not find the 'adminname' column of 'mypoolr' in "
        "the schema cache\"}\n"
    )
    argv = ["run", "--table", "mypoolr", "--column", "adminname", "--logs", str(log),
            "--tz", "Europe/Berlin"]
    ctx = LogContext.load(build_parser("run").parse_args(argv))
    assert ctx.doc is not None
    scanned = document(scan_paths([str(log)], ScanOptions(tz="Europe/Berlin")))
    assert ctx.doc["incidents"][0]["first_seen"] == scanned["incidents"][0]["first_seen"]
    assert ctx.doc["incidents"][0]["first_seen"].startswith("2026-11-22T09:20:05")


def test_run_without_reading_flags_reads_utc() -> None:
    args = build_parser("run").parse_args(["run", "--table", "t", "--column", "c"])
    options, default = scan_options(args), ScanOptions()
    for name in ("tz", "format_of", "default_format", "since", "until"):
        assert getattr(options, name) == getattr(default, name)


def test_the_verify_command_names_the_incident_shell_quoted() -> None:
    from runbook.evidence import run_command

    command = run_command("Inv'oice", "x; rm -rf /", "billing")
    assert shlex.split(command) == [
        "pgrst-runbook", "run", "--schema", "billing", "--table", "Inv'oice", "--column",
        "x; rm -rf /",
    ]
