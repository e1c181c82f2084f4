"""Writes and reads by status class: counted from every access line, kept only as counters.

Access lines use PostgREST's templates (reference/postgrest.md 2.1): the size is `-` before
v13 and numeric from v13; the client log is Python logging with postgrest-py's `APIError`, as
supabase-py writes it; the gateway rows are a Supabase edge_logs export (tests/parsers/fixtures).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runbook.ingest.scan import ScanOptions, document, scan_paths

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 18, 9, 0, 0, tzinfo=UTC)
TABLE, COLUMN = "members", "telegram_handle"
EDGE = ROOT / "tests" / "parsers" / "fixtures" / "supabase" / "edge_logs_bigquery.json"


def access_line(at: datetime, method: str, path: str, status: int, size: str = "-") -> str:
    """One PostgREST access line: `size` is `-` before v13, the Content-Length from v13."""
    return (
        f'10.0.0.7 - web_anon [{at:%d/%b/%Y:%H:%M:%S +0000}] "{method} {path} HTTP/1.1" '
        f'{status} {size} "" "python-httpx/0.27.0"\n'
    )


def client_error(at: datetime) -> str:
    """postgrest-py's APIError as supabase-py's callers log it through Python logging."""
    return (
        f"{at:%Y-%m-%d %H:%M:%S},{at.microsecond // 1000:03d} ERROR members.api: "
        "postgrest.exceptions.APIError: {'code': 'PGRST204', 'details': None, 'hint': None, "
        f"'message': \"Could not find the '{COLUMN}' column of '{TABLE}' in the schema cache\"}}\n"
    )


def minute(m: int, second: int = 0) -> datetime:
    return T0 + timedelta(minutes=m, seconds=second)


def write_incident(folder: Path, successes_logged: bool = True) -> None:
    """A PGRST204 incident on members from minute 10 to 12 (one failure a minute), and the
    access log around it: one successful write at :30 of every minute for half an hour
    (unless the log level keeps failures only), each failure's 400, and reads."""
    folder.mkdir(parents=True, exist_ok=True)
    app, access = [], []
    for m in range(30):
        if successes_logged:
            access.append((minute(m, 30), "POST", f"/{TABLE}", 201, "-"))
            access.append((minute(m, 40), "GET", f"/{TABLE}?select=*&id=eq.{m}", 200, "-"))
        if 10 <= m <= 12:
            app.append(client_error(minute(m) + timedelta(milliseconds=500)))
            access.append((minute(m, 1), "POST", f"/{TABLE}?columns={COLUMN}", 400, "-"))
    (folder / "app.log").write_text("".join(app))
    (folder / "access.log").write_text("".join(access_line(*row) for row in sorted(access)))


def scan_doc(*paths: Path, **options: object) -> dict:
    return document(scan_paths([str(p) for p in paths], ScanOptions(**options)))  # type: ignore[arg-type]


def test_every_write_is_counted_by_method_and_status_class(tmp_path: Path) -> None:
    lines = []
    for n in range(30):
        lines.append(access_line(minute(n // 10, n % 10), "POST", "/members", 201, "0"))
    for n in range(10):
        lines.append(access_line(minute(3, n), "PATCH", "/members?id=eq.7", 200, "57"))
    for n in range(5):
        lines.append(access_line(minute(3, 20 + n), "PUT", "/members?id=eq.8", 200, "57"))
    for n in range(6):
        lines.append(access_line(minute(4, n), "POST", "/members?columns=telegram_handle", 400, "139"))
    for n in range(2):
        lines.append(access_line(minute(4, 30 + n), "POST", "/members", 503, "119"))
    for n in range(40):
        lines.append(access_line(minute(5, n), "GET", "/members?select=*", 200, "2"))  # reads
    for n in range(3):
        lines.append(access_line(minute(6, n), "DELETE", "/members?id=eq.9", 204))
    lines.append(access_line(minute(6, 5), "DELETE", "/members?id=eq.9", 404, "0"))  # a line: 404
    lines.append(access_line(minute(6), "POST", "/rpc/add_member", 200, "2"))  # not a table
    path = tmp_path / "access.log"
    path.write_text("".join(lines))

    whole = scan_doc(path)
    assert whole["writes"]["success_lines_logged"] is True
    [members] = whole["writes"]["tables"]
    assert members == {
        "table": "members",
        "requests": 57,
        "2xx": 48,
        "3xx": 0,
        "4xx": 7,
        "5xx": 2,
        "status_400": 6,
        "share_400": round(6 / 57, 4),
        "success_lines_logged": True,
        "by_method": {
            "DELETE": {"2xx": 3, "3xx": 0, "4xx": 1, "5xx": 0},
            "PATCH": {"2xx": 10, "3xx": 0, "4xx": 0, "5xx": 0},
            "POST": {"2xx": 30, "3xx": 0, "4xx": 6, "5xx": 2},
            "PUT": {"2xx": 5, "3xx": 0, "4xx": 0, "5xx": 0},
        },
    }
    assert whole["reads"] == {
        "success_lines_logged": True,
        "tables": [
            {"table": "members", "requests": 40, "2xx": 40, "3xx": 0, "4xx": 0, "5xx": 0,
             "by_method": {"GET": {"2xx": 40, "3xx": 0, "4xx": 0, "5xx": 0}}},
        ],
    }
    # The same counts however the bytes come: chunks cut mid-line, every chunk its own batch.
    cut = scan_doc(path, chunk_bytes=333, parallel=False)
    assert (cut["writes"], cut["reads"]) == (whole["writes"], whole["reads"])


def test_reads_are_counted_by_table_and_status_class(tmp_path: Path) -> None:
    """GET and HEAD, as supabase-js and postgrest-py send them (`?select=`, `count=exact`)."""
    lines = []
    for n in range(50):
        lines.append(access_line(minute(1, n), "GET", "/members?select=id,name&order=id.asc", 200, "812"))
    for n in range(4):
        lines.append(access_line(minute(2, n), "HEAD", "/members?select=*", 200))
    lines.append(access_line(minute(2, 10), "GET", "/members?select=telegram_handle", 400, "120"))  # 42703
    lines.append(access_line(minute(2, 11), "GET", "/rest/v1/members?select=*", 304, "0"))
    lines.append(access_line(minute(2, 12), "GET", "/profiles?id=eq.1", 406, "130"))  # PGRST116
    lines.append(access_line(minute(2, 13), "GET", "/nothere?select=*", 404, "129"))  # PGRST205
    lines.append(access_line(minute(2, 14), "GET", "/profiles", 503, "20"))
    lines.append(access_line(minute(2, 15), "GET", "/", 200, "4000"))  # the OpenAPI root: no table
    path = tmp_path / "access.log"
    path.write_text("".join(lines))

    reads = {t["table"]: t for t in scan_doc(path)["reads"]["tables"]}
    assert set(reads) == {"members", "profiles", "nothere"}
    assert {k: reads["members"][k] for k in ("requests", "2xx", "3xx", "4xx", "5xx")} == {
        "requests": 56, "2xx": 54, "3xx": 1, "4xx": 1, "5xx": 0,
    }
    assert reads["members"]["by_method"]["HEAD"] == {"2xx": 4, "3xx": 0, "4xx": 0, "5xx": 0}
    assert (reads["profiles"]["4xx"], reads["profiles"]["5xx"]) == (1, 1)
    assert reads["nothere"]["4xx"] == 1


def test_parallel_ranges_count_what_one_pass_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import runbook.ingest.parallel as parallel

    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(parallel, "PARALLEL_FILE_BYTES", 1)
    monkeypatch.setattr(parallel, "workers", lambda: 2)
    write_incident(tmp_path)
    one = scan_doc(tmp_path, parallel=False)
    parted = scan_doc(tmp_path, parallel=True)
    assert parted["writes"] == one["writes"]
    assert parted["incidents"][0]["context"]["writes"] == one["incidents"][0]["context"]["writes"]
    assert one["writes"]["tables"][0]["requests"] == 33


def test_unreadable_write_lines_are_counted_as_skipped_never_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_bytes(
        access_line(minute(0), "POST", "/members", 201).encode()
        + b'10.0.0.7 - web_anon [18/Nov/2026:09:00:01 +0000] "POST /memb\n'  # cut mid-line
        + access_line(minute(0, 2), "PUT", "/members", 200).encode().replace(b"httpx", b"\xff\xfe")
        + access_line(minute(0, 3), "PROPFIND", "/members", 405).encode()  # not a write
        + access_line(minute(0, 4), "POST", "/members", 400).encode()
        + b'10.0.0.7 - web_anon [31/Feb/2026:09:00:05 +0000] "PUT /members HTTP/1.1" 200 - "" "x"\n'
        + b'10.0.0.7 - web_anon [01/Jan/0001:09:00:06 +0000] "PUT /members HTTP/1.1" 200 - "" "x"\n'
    )
    result = scan_paths([str(path)])
    stats = result.stats()
    assert (stats["lines_skipped"], stats["invalid_utf8_lines"]) == (3, 1)
    [members] = document(result)["writes"]["tables"]
    assert members["by_method"] == {
        "POST": {"2xx": 1, "3xx": 0, "4xx": 1, "5xx": 0},
        "PUT": {"2xx": 1, "3xx": 0, "4xx": 0, "5xx": 0},
    }


def test_successful_writes_are_folded_not_kept(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    with path.open("w") as fh:
        for n in range(12_000):  # 20 writes a second for 10 minutes
            fh.write(access_line(T0 + timedelta(seconds=n // 20), "POST", "/members", 201, "0"))
        fh.write(access_line(minute(10), "POST", "/members", 400, "139"))
    result = scan_paths([str(path)])
    assert result.sources[0].requests_counted == 12_000
    # One weighted row per (minute, method, path, status), and the 400 as its line.
    assert result.events.height <= 11
    assert int(result.events["weight"].fill_null(1).sum()) == 12_001
    assert document(result)["writes"]["tables"][0]["2xx"] == 12_000


def test_the_incident_counts_the_writes_of_its_window(tmp_path: Path) -> None:
    write_incident(tmp_path)
    doc = scan_doc(tmp_path)
    [incident] = doc["incidents"]
    # 09:09:00.5 to 09:13:00.5 (the failures with 60 s either side): the 201s at 9:30 ... 12:30
    # and the three 400s; the other 26 successful writes lie outside.
    assert incident["context"]["writes"] == {
        "requests": 7, "2xx": 4, "3xx": 0, "4xx": 3, "5xx": 0,
        "status_400": 3, "share_400": round(3 / 7, 4), "success_lines_logged": True,
    }
    assert incident["context"]["access_400s"] == 3
    assert doc["writes"]["tables"][0]["requests"] == 33


def test_a_log_of_failures_only_gives_no_share(tmp_path: Path) -> None:
    write_incident(tmp_path, successes_logged=False)  # log-level=warn: only >= 400 is logged
    doc = scan_doc(tmp_path)
    writes = doc["incidents"][0]["context"]["writes"]
    assert writes["requests"] == writes["status_400"] == 3
    assert writes["success_lines_logged"] is False
    assert writes["share_400"] is None
    assert doc["writes"]["success_lines_logged"] is False


def test_gateway_writes_count_with_their_status(tmp_path: Path) -> None:
    doc = scan_doc(EDGE)
    by_table = {t["table"]: t for t in doc["writes"]["tables"]}
    # Two POSTs whose proxy status names PGRST204, one that succeeded; an older project's 400.
    assert by_table["mypoolr"]["by_method"] == {"POST": {"2xx": 1, "3xx": 0, "4xx": 2, "5xx": 0}}
    assert by_table["Pool Members"]["status_400"] == 1
    # A 400 the gateway names as another error (23502, a not-null violation) is a write that
    # failed, never a PGRST204; a read and a 404 the gateway names as PGRST205 are reads.
    assert by_table["members"]["by_method"] == {"POST": {"2xx": 0, "3xx": 0, "4xx": 1, "5xx": 0}}
    reads = {t["table"]: t for t in doc["reads"]["tables"]}
    assert (reads["mypoolr"]["2xx"], reads["testimonials"]["4xx"]) == (1, 1)


def test_docker_logs_count_the_access_lines_among_stderr(tmp_path: Path) -> None:
    path = tmp_path / "postgrest.docker.log"
    path.write_text(
        "18/Nov/2026:09:00:00 +0000: Starting PostgREST 12.2.3...\n"
        "18/Nov/2026:09:00:01 +0000: Schema cache loaded\n"
        + access_line(minute(1), "POST", "/members", 201)
        + access_line(minute(1, 5), "PATCH", "/members?id=eq.1", 204)
        + '18/Nov/2026:09:01:06 +0000: Received a schema cache reload message on the "pgrst" channel\n'
        + access_line(minute(1, 7), "POST", "/members", 400)
    )
    doc = scan_doc(path)
    assert doc["stats"]["formats"] == {"postgrest_docker": 1}
    [members] = doc["writes"]["tables"]
    assert (members["2xx"], members["4xx"]) == (2, 1)


def test_a_mixed_stream_counts_the_access_lines_among_other_records(tmp_path: Path) -> None:
    path = tmp_path / "all.log"  # `kubectl logs --all-containers`: access lines between JSON records
    path.write_text(
        "".join(
            access_line(minute(1, n), "POST", "/members", 201)
            + f'{{"time": "2026-11-18T09:01:{n:02d}Z", "level": "info", "msg": "saved {n}"}}\n'
            for n in range(10)
        )
        + client_error(minute(2))
    )
    result = scan_paths([str(path)])
    assert result.sources[0].format == "mixed"
    assert result.sources[0].requests_counted == 10
    assert document(result)["writes"]["tables"][0]["2xx"] == 10


# -- scan, report and run say the same ------------------------------------------------------


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runbook", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.mark.parametrize(
    ("successes", "sentence"),
    [
        (True, "3 of 7 write(s) to 'members' in the access or gateway log failed with HTTP 400 (42.9%)"),
        (False, "3 write(s) to 'members' in the access or gateway log failed with HTTP 400; success "
                "lines not logged"),
    ],
    ids=["share", "failures-only"],
)
def test_scan_report_and_run_agree(tmp_path: Path, successes: bool, sentence: str) -> None:
    logs = tmp_path / "logs"
    write_incident(logs, successes_logged=successes)
    env = {"XDG_STATE_HOME": str(tmp_path / "state"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    scan = cli("scan", str(logs), "--format", "json", "--no-progress")
    assert scan.returncode == 0, scan.stderr
    writes = json.loads(scan.stdout)["incidents"][0]["context"]["writes"]
    table = cli("scan", str(logs), "--no-progress")
    assert f"{TABLE}.{COLUMN}: {sentence}" in table.stdout, table.stdout

    report = cli("report", str(logs), "--json", env=env)
    assert report.returncode == 0, report.stderr
    impact = json.loads(report.stdout)["impact"]
    assert impact["writes"] == writes
    assert impact["writes_in_access_log"] == writes["requests"] == (7 if successes else 3)
    assert impact["writes_failed_share"] == writes["share_400"]
    assert impact["writes_sentence"].startswith(sentence)

    markdown = cli("report", str(logs), env=env)
    assert markdown.returncode == 0, markdown.stderr
    assert f"- Writes in the period: {sentence}" in markdown.stdout
    assert "(100.0%)" not in markdown.stdout

    run = cli(
        "run", "--logs", str(logs), "--table", TABLE, "--column", COLUMN,
        "--dsn", "postgresql://nobody@127.0.0.1:1/none", "--api-url", "http://127.0.0.1:1",
        env=env,
    )
    assert f"Writes while it lasted: {sentence}" in run.stdout, run.stdout + run.stderr


def test_an_invalid_line_among_counted_requests_is_counted_once(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_bytes(
        access_line(minute(0), "GET", "/members", 200).encode().replace(b"httpx", b"\xff")
        + access_line(minute(0, 1), "POST", "/members", 400).encode().replace(b"httpx", b"\xfe")
        + access_line(minute(0, 2), "GET", "/members", 200).encode()
    )
    result = scan_paths([str(path)])
    assert result.stats()["invalid_utf8_lines"] == 2
    assert document(result)["reads"]["tables"][0]["2xx"] == 2
