"""A folder of hostile and broken inputs never kills or fools a run: `scan`, `report` and
`run --logs` (no database: logs-only) read it as subprocesses, as an operator's shell does.

Each command must end without a traceback, in bounded time, with its documented exit code,
name what it could not read (or read only in part), and show none of the secrets planted in
the lines: not on stdout, stderr, in the JSON, the report, the checklist or the journal.
Everything is generated here; nothing large is checked in.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.pg import free_port
from tests.support.state import CONNECTION_VARIABLES

ROOT = Path(__file__).resolve().parents[2]
BODY = (
    "{'code': 'PGRST204', 'details': None, 'hint': None, 'message': \"Could not find the "
    "'adminname' column of 'mypoolr' in the schema cache\"}"
)
JSON_BODY = BODY.replace('"', '\\"')

# The secrets planted in log lines: none may reach any output.
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIiwiaXNzIjoic3VwYWJhc2Ui"
    "fQ.c2lnbmF0dXJlLW9mLXRoZS1zZXJ2aWNlLXJvbGUta2V5"
)
JWT_SIGNATURE = JWT.rsplit(".", 1)[1]
PGPASSWORD = "Tr0ub4dor-and-3-horses"
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLQ"
URL_PASSWORD = "hunter2-but-longer-9"
SECRETS = (JWT, JWT_SIGNATURE, PGPASSWORD, AWS_KEY_ID, URL_PASSWORD)

TIME_LIMIT = 120  # seconds per command, for a loaded 2-core machine; each takes a few here


def bot_line(at: str, text: str = "insert failed:") -> str:
    return f"2026-11-18 {at},000 ERROR mypoolr.bot: {text} {BODY}\n"


def write_inputs(folder: Path) -> dict[str, Path]:
    """The hostile folder; returns its notable files by role."""
    folder.mkdir()
    secret_lines = [  # the first failures by time: the incident's samples are cut from them
        bot_line("08:00:00", f"insert failed with Authorization: Bearer {JWT}:"),
        bot_line("08:00:01", f"insert failed (env PGPASSWORD={PGPASSWORD}):"),
        bot_line("08:00:02", f"insert failed as {AWS_KEY_ID}:"),
        bot_line("08:00:03", f"insert via postgresql://app:{URL_PASSWORD}@db.internal:5432/app failed:"),
    ]
    impossible_times = [
        f"0000-01-01 00:00:00,000 ERROR mypoolr.bot: insert failed: {BODY}\n",
        f"9999-12-31 23:59:59,999 ERROR mypoolr.bot: insert failed: {BODY}\n",
    ]
    ordinary = [bot_line(f"09:{i:02d}:00") for i in range(20)]
    nul = "2026-11-18 09:30:00,000 ERROR mypoolr.bot: insert\x00failed\x00: " + BODY + "\n"
    (folder / "bot.log").write_text("".join(secret_lines + impossible_times + ordinary) + nul)
    (folder / "app.jsonl").write_text(
        "".join(
            json.dumps({"ts": ts, "level": "error", "msg": BODY}) + "\n"
            for ts in (9e18, -9e18, 1e300, 9000000000000000000)
        )
        + json.dumps({"ts": "2026-11-18T09:31:00Z", "level": "error", "msg": BODY, "apikey": JWT})
        + "\n"
    )
    with (folder / "blob.log").open("wb") as f:  # a 10 MB line, a secret near its start
        f.write(bot_line("08:00:04", f"insert failed, token={JWT}:").rstrip("\n").encode())
        f.write(b" " + b"x" * (10 << 20) + b"\n")
    (folder / "broken-utf8.log").write_bytes(
        b"2026-11-18 09:32:00,000 ERROR mypoolr.bot: \xff\xfe\xc3( insert failed: " + BODY.encode() + b"\n"
    )
    member = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = member.compress(bytes(16 << 20)) + member.flush()
    (folder / "bomb.log.gz").write_bytes(zeros * 64)  # 1 GiB of zeros in about 1 MB
    whole = gzip.compress("".join(bot_line(f"10:{i // 60:02d}:{i % 60:02d}") for i in range(3000)).encode())
    (folder / "cut.log.gz").write_bytes(whole[: len(whole) * 9 // 10])
    os.mkfifo(folder / "pipe")  # nobody ever writes to it
    return {
        "bomb": folder / "bomb.log.gz",
        "cut": folder / "cut.log.gz",
        "pipe": folder / "pipe",
        "blob": folder / "blob.log",
    }


@dataclass
class Run:
    code: int
    out: str
    err: str
    seconds: float


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path], dict[str, str]]:
    base = tmp_path_factory.mktemp("hostile")
    files = write_inputs(base / "logs")
    env = {k: v for k, v in os.environ.items() if k not in CONNECTION_VARIABLES}
    env.update(
        XDG_STATE_HOME=str(base / "state"),
        XDG_CONFIG_HOME=str(base / "config"),
        PGHOST="127.0.0.1",  # no database: a port nobody listens on
        PGPORT=str(free_port()),
        COLUMNS="120",
    )
    return base, files, env


def cli(env: dict[str, str], *args: str) -> Run:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "runbook", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=TIME_LIMIT * 2,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)


def assert_clean(run: Run, *texts: str) -> None:
    """No traceback, in time, and no planted secret in the run's output or `texts`."""
    assert "Traceback" not in run.err, run.err
    assert "panicked" not in run.err, run.err
    assert run.seconds < TIME_LIMIT
    for text in (run.out, run.err, *texts):
        for secret in SECRETS:
            assert secret not in text


def assert_names_what_was_not_read(err: str, files: dict[str, Path]) -> None:
    assert f"cannot read {files['pipe']}: not a regular file: skipped" in err
    assert f"{files['bomb']}: compressed stream expands more than 200x" in err
    assert f"{files['cut']}: compressed stream cut after " in err


def test_scan_json(hostile) -> None:
    base, files, env = hostile
    run = cli(env, "scan", str(base / "logs"), "--format", "json", "--no-progress")
    assert run.code == 3, run.err  # some inputs could not be read, or only in part
    assert_clean(run)
    assert_names_what_was_not_read(run.err, files)
    doc = json.loads(run.out)
    [incident] = doc["incidents"]
    assert (incident["table"], incident["column"]) == ("mypoolr", "adminname")
    assert "***" in json.dumps(incident["samples"])  # the secret lines are shown, masked
    stats = doc["stats"]
    assert {u["source"] for u in stats["unreadable"]} == {str(files["pipe"])}
    assert {p["source"] for p in stats["partial"]} == {str(files["bomb"]), str(files["cut"])}
    assert stats["lines_cut"] >= 1  # the 10 MB line, and the bomb's run of zeros
    assert stats["lines_skipped"] >= 6  # the impossible years and epochs
    assert stats["invalid_utf8_lines"] >= 1


def test_scan_table(hostile) -> None:
    base, files, env = hostile
    run = cli(env, "scan", str(base / "logs"), "--no-progress")
    assert run.code == 3, run.err
    assert_clean(run)
    assert_names_what_was_not_read(run.err, files)
    assert "mypoolr" in run.out
    assert "1 input(s) unreadable; 2 input(s) read only in part" in run.out


def test_report_file_and_checklist(hostile) -> None:
    base, files, env = hostile
    out = base / "out"
    out.mkdir(exist_ok=True)
    report, checklist = out / "incident.md", out / "CHECKLIST.md"
    run = cli(env, "report", str(base / "logs"), "-o", str(report), "--checklist", str(checklist))
    assert run.code == 3, run.err
    assert_names_what_was_not_read(run.err, files)
    text = report.read_text()
    assert "mypoolr" in text and "***" in text
    assert_clean(run, text, checklist.read_text())


def test_report_json(hostile) -> None:
    base, files, env = hostile
    run = cli(env, "report", str(base / "logs"), "--json")
    assert run.code == 3, run.err
    assert_clean(run)
    assert json.loads(run.out)


def test_run_from_the_logs_alone(hostile) -> None:
    """No database or API: `run` diagnoses from the logs, says what it could not check and
    exits 4 (unreachable), and names the logs it could not read."""
    base, files, env = hostile
    run = cli(env, "run", "--logs", str(base / "logs"), "--json", "--dry-run", "--timeout", "2")
    assert run.code == 4, run.err
    assert_names_what_was_not_read(run.err, files)
    [result] = json.loads(run.out)
    assert (result["table"], result["column"]) == ("mypoolr", "adminname")
    journals = list((base / "state" / "pgrst-runbook" / "journals").glob("*.jsonl"))
    assert journals
    assert_clean(run, *(j.read_text() for j in journals))
