"""Grouping and context: what an on-call engineer reads first must be right."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from runbook.ingest.scan import ScanOptions, document, scan_paths

ROOT = Path(__file__).resolve().parents[2]
BODY = (
    '{{"code":"PGRST204","details":null,"hint":null,'
    "\"message\":\"Could not find the '{col}' column of '{table}' in the schema cache\"}}"
)


def write_story(folder: Path, errors_after_reload: bool) -> None:
    """A stale-cache-shaped story: errors from 09:00 to 09:05, a reload at 09:05:30."""
    app = []
    for minute in range(6):
        for k in range(minute + 1):  # 1, 2, ... 6 per minute: peak 6
            app.append(
                f"2026-11-18T09:{minute:02d}:{10 + k:02d}Z ERROR req={minute}-{k} "
                + BODY.format(col="telegram_handle", table="members")
            )
    if errors_after_reload:
        app.append(
            "2026-11-18T09:07:00Z ERROR " + BODY.format(col="telegram_handle", table="members")
        )
    app.append("2026-11-18T09:02:00Z ERROR " + BODY.format(col="x", table="other"))
    app.append("2026-11-18T09:02:00Z WARN alert rule: page on PGRST204 in app logs")
    app.append(
        '2026-11-18T09:02:30Z ERROR {"code":"PGRST205","details":null,"hint":null,'
        '"message":"Could not find the table \'public.memberz\' in the schema cache"}'
    )
    (folder / "app.log").write_text("\n".join(app) + "\n")
    (folder / "postgrest.log").write_text(
        "18/Nov/2026:08:00:00 +0000: Starting PostgREST 16.2...\n"
        '18/Nov/2026:08:00:00 +0000: Listener connected to PostgreSQL 16.4 on "db:5432" and listening '
        'for database notifications on the "pgrst" channel\n'
        "18/Nov/2026:08:00:01 +0000: Schema cache loaded 15 Relations, 8 Relationships, 8 RPCs, "
        "0 Domain Representations, 4 Media Type Handlers\n"
        '18/Nov/2026:09:05:30 +0000: Received a schema cache reload message on the "pgrst" channel\n'
        "18/Nov/2026:09:05:30 +0000: Schema cache queried in 9.8 milliseconds \n"
        "18/Nov/2026:09:05:30 +0000: Schema cache loaded 16 Relations, 8 Relationships, 8 RPCs, "
        "0 Domain Representations, 4 Media Type Handlers\n"
        "18/Nov/2026:09:05:30 +0000: Schema cache loaded in 0.1 milliseconds\n"
    )
    (folder / "access.log").write_text(
        "".join(
            f'10.0.0.{i % 5} - web_anon [18/Nov/2026:09:0{i % 6}:1{i % 6} +0000] "POST /members HTTP/1.1" 400 140 "" "node"\n'
            for i in range(4)
        )
        + '10.0.0.1 - web_anon [18/Nov/2026:09:01:00 +0000] "PATCH /members?id=eq.3 HTTP/1.1" 400 140 "" "node"\n'
        + '10.0.0.1 - web_anon [18/Nov/2026:09:01:00 +0000] "GET /members HTTP/1.1" 200 2 "" "node"\n'
    )


def test_grouping_counts_timeline_and_context(tmp_path: Path) -> None:
    write_story(tmp_path, errors_after_reload=False)
    doc = document(scan_paths([str(tmp_path)], ScanOptions()))
    incidents = doc["incidents"]
    assert [(i["table"], i["column"], i["count"]) for i in incidents] == [
        ("members", "telegram_handle", 21),
        ("other", "x", 1),
    ]
    members = incidents[0]
    assert members["first_seen"] == "2026-11-18T09:00:10+00:00"
    assert members["last_seen"] == "2026-11-18T09:05:15+00:00"
    assert [p["count"] for p in members["per_minute"]] == [1, 2, 3, 4, 5, 6]
    assert members["peak_per_minute"] == 6
    assert members["endpoints"][0] == "POST /members"
    assert "PATCH /members" in members["endpoints"]
    ctx = members["context"]
    assert ctx["stopped_after_reload"] is True
    assert ctx["errors_after_last_load"] == 0
    assert ctx["first_load_after_first_error"]["ts"] == "2026-11-18T09:05:30+00:00"
    assert [r["kind"] for r in ctx["reloads"]] == ["cache_reload", "cache_load"]
    assert [r["code"] for r in doc["related"]] == ["PGRST205"]
    assert doc["stats"]["formats"] == {"generic": 1, "postgrest_access": 1, "postgrest_stderr": 1}


def test_errors_that_continue_after_a_load_are_flagged(tmp_path: Path) -> None:
    write_story(tmp_path, errors_after_reload=True)
    doc = document(scan_paths([str(tmp_path)], ScanOptions()))
    ctx = doc["incidents"][0]["context"]
    assert ctx["stopped_after_reload"] is False
    assert ctx["errors_after_last_load"] == 1


def test_same_request_logged_twice_counts_once(tmp_path: Path) -> None:
    line = (
        '{"ts":"2026-11-18T09:00:00Z","request_id":"r-1","msg":'
        + json.dumps(BODY.format(col="c", table="t"))
        + "}"
    )
    (tmp_path / "a.log").write_text(line + "\n" + line + "\n")
    result = scan_paths([str(tmp_path)], ScanOptions(default_format="generic"))
    # generic does not read request ids: two records, two requests
    assert document(result)["incidents"][0]["count"] == 2


def run_cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "runbook", *args],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        check=False,
    )


def test_cli_json_contract_and_exit_codes(tmp_path: Path) -> None:
    write_story(tmp_path, errors_after_reload=False)
    proc = run_cli("scan", str(tmp_path), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc) == {"incidents", "related", "writes", "reads", "stats"}
    inc = doc["incidents"][0]
    for key in (
        "code",
        "table",
        "column",
        "schema",
        "count",
        "first_seen",
        "last_seen",
        "endpoints",
        "sources",
        "per_minute",
        "context",
    ):
        assert key in inc
    assert {"files", "lines_read", "lines_skipped", "formats"} <= set(doc["stats"])
    assert run_cli("scan", str(tmp_path), "--fail-on-incidents").returncode == 1
    assert run_cli("scan", str(tmp_path / "missing.log")).returncode == 3
    assert run_cli("scan", str(tmp_path), "--since", "yesterday-ish").returncode == 2
    assert run_cli("scan", str(tmp_path), "--format-of", "x=nope").returncode == 2
    table = run_cli("scan", str(tmp_path))
    assert b"telegram_handle" in table.stdout and b"read 3 file(s)" in table.stdout


def test_markup_and_escapes_in_names_are_shown_not_executed(tmp_path: Path) -> None:
    evil_col = "[bold]x[/bold]\x1b[31m"
    (tmp_path / "a.log").write_text(
        "2026-11-18T09:00:00Z " + BODY.format(col=evil_col, table="t|`<b>") + "\n"
    )
    out = run_cli("scan", str(tmp_path)).stdout.decode()
    assert "\x1b" not in out and "\\x1b[31m" in out and "[bold]x[/bold]" in out
    md = run_cli("scan", str(tmp_path), "--format", "markdown").stdout.decode()
    assert "t\\|\\`&lt;b" in md and "<b>" not in md  # no pipe, code span or tag can act


def test_aggregated_rows_from_a_store_count_by_weight() -> None:
    from datetime import UTC, datetime

    import polars as pl

    from runbook.events import conform
    from runbook.incidents.grouping import group_incidents

    def t(m: int, s: int = 0) -> datetime:
        return datetime(2026, 11, 18, 9, m, s, tzinfo=UTC)

    rows = pl.DataFrame(
        {
            "ts": [t(0, 5), t(2, 1)],
            "ts_end": [t(0, 50), t(2, 30)],
            "kind": ["schema_cache_error"] * 2,
            "code": ["PGRST204"] * 2,
            "table": ["members"] * 2,
            "column": ["telegram_handle"] * 2,
            "weight": [7, 3],
            "source": ["clickhouse://h/otel/otel_logs"] * 2,
        }
    )
    (incident,) = group_incidents(conform(rows).collect())
    assert incident.count == 10
    assert incident.first_seen == t(0, 5) and incident.last_seen == t(2, 30)
    assert [p["count"] for p in incident.per_minute] == [7, 0, 3]
