"""Python logging files through the real scan pipeline: one event per failed call, at its time."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from runbook.ingest.scan import ScanOptions, document, scan_paths
from tests.parsers.client_errors import HOSTILE_NAMES, message, old_message, python_repr

REPR = python_repr("adminname", "mypoolr")
FRAMES = (
    "Traceback (most recent call last):\n"
    '  File "/app/mypoolr/handlers/create.py", line 142, in confirm_create\n'
    '    res = await db.table("mypoolr").insert(row).execute()\n'
    "          ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
    '  File "/usr/local/lib/python3.12/site-packages/postgrest/_async/request_builder.py", '
    "line 71, in execute\n"
    "    raise APIError(r.json())\n"
)

BOT_LOG = (
    "2026-11-18 09:00:00,015 INFO mypoolr.reminders: contribution reminder run started\n"
    "2026-11-18 09:10:02,371 INFO mypoolr.health: alert rule 'pgrst-schema' loaded: page "
    "#ops when PGRST204 errors exceed 5 per minute\n"
    "2026-11-18 09:15:01,101 INFO httpx: HTTP Request: POST "
    'https://abcd.supabase.co/rest/v1/mypoolr "HTTP/1.1 400 Bad Request"\n'
    # logger.exception with the dict in the message too: one record, one event
    f"2026-11-18 09:15:01,223 ERROR mypoolr.handlers.create: create_pool failed "
    f"request_id=upd-5519: {REPR}\n" + FRAMES + f"postgrest.exceptions.APIError: {REPR}\n"
    # a chained traceback repeating the error: still one event
    "2026-11-18 09:16:42,051 ERROR mypoolr.handlers.create: create_pool failed request_id=upd-5520\n"
    + FRAMES
    + f"postgrest.exceptions.APIError: {REPR}\n"
    "\n"
    "During handling of the above exception, another exception occurred:\n"
    "\n"
    "Traceback (most recent call last):\n"
    '  File "/app/mypoolr/handlers/create.py", line 150, in confirm_create\n'
    "    raise PoolCreateError(str(exc)) from None\n"
    f"mypoolr.errors.PoolCreateError: {REPR}\n"
    # logger.warning("...: %r", exc): postgrest-py's multi-line repr
    "2026-11-18 09:17:55,402 WARNING mypoolr.handlers.quick: quick create failed: Error PGRST204:\n"
    f"Message: {message('adminname', 'mypoolr')}\n"
    "2026-11-18 09:18:03,988 WARNING mypoolr.handlers.join: unknown invite code: {'code': "
    "'PGRST116', 'details': 'The result contains 0 rows', 'hint': None, 'message': "
    "'JSON object requested, multiple (or no) rows returned'}\n"
    # an old PostgREST (v11.0-v12.0.2) wording
    "2026-11-18 09:19:47,615 ERROR mypoolr.handlers.create: create_pool failed\n"
    + FRAMES
    + "postgrest.exceptions.APIError: "
    + python_repr("admin_name", "mypoolr", old_message("admin_name", "mypoolr"))
    + "\n2026-11-18 09:20:00,000 INFO mypoolr: reminder run finished\n"
)


def line_of(text: str, needle: str, nth: int = 0) -> int:
    """1-based number of the line holding the `nth` occurrence of `needle`."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return hits[nth]


def scan(path: Path, **options) -> tuple[list[dict], dict]:
    result = scan_paths([str(path)], ScanOptions(**options))
    return result.events.to_dicts(), result.stats()


def named(events: list[dict]) -> list[dict]:
    return [e for e in events if e["code"] == "PGRST204" and e["table"] is not None]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_bot_log_one_event_per_failed_call_at_the_header_time(tmp_path: Path) -> None:
    log = tmp_path / "bot.log"
    log.write_text(BOT_LOG)
    events, stats = scan(log)
    assert stats["formats"] == {"python_logging": 1}
    errors = named(events)
    assert [(e["record_no"], e["ts"], e["column"], e["request_id"]) for e in errors] == [
        (line_of(BOT_LOG, "upd-5519"), utc(2026, 11, 18, 9, 15, 1, 223000), "adminname", "upd-5519"),
        (line_of(BOT_LOG, "upd-5520"), utc(2026, 11, 18, 9, 16, 42, 51000), "adminname", "upd-5520"),
        (line_of(BOT_LOG, "Error PGRST204:"), utc(2026, 11, 18, 9, 17, 55, 402000), "adminname", None),
        (line_of(BOT_LOG, "09:19:47,615"), utc(2026, 11, 18, 9, 19, 47, 615000), "admin_name", None),
    ]
    assert {e["table"] for e in errors} == {"mypoolr"}
    assert [e["level"] for e in errors] == ["error", "error", "warning", "error"]
    assert errors[0]["detail"] == "mypoolr.handlers.create"
    # the traceback's last line of the old wording is the event's line; its record is the header
    assert errors[3]["line_no"] == line_of(BOT_LOG, "Column 'admin_name'")


def test_a_bare_code_mention_is_never_a_named_error(tmp_path: Path) -> None:
    log = tmp_path / "bot.log"
    log.write_text(BOT_LOG)
    events, _ = scan(log)
    alert = [e for e in events if e["line_no"] == line_of(BOT_LOG, "alert rule")]
    assert [(e["code"], e["table"], e["column"]) for e in alert] == [("PGRST204", None, None)]
    # the `Error PGRST204:` header of the repr form is merged into its `Message:` line
    assert not [e for e in events if e["line_no"] == line_of(BOT_LOG, "Error PGRST204:")]


def test_httpx_400_line_gives_the_endpoint(tmp_path: Path) -> None:
    log = tmp_path / "bot.log"
    log.write_text(BOT_LOG)
    events, _ = scan(log)
    access = [e for e in events if e["kind"] == "access"]
    assert [(e["method"], e["path"], e["status"], e["ts"]) for e in access] == [
        ("POST", "/rest/v1/mypoolr", 400, utc(2026, 11, 18, 9, 15, 1, 101000))
    ]


def test_naive_asctime_is_taken_in_the_given_zone(tmp_path: Path) -> None:
    log = tmp_path / "bot.log"
    log.write_text(BOT_LOG)
    events, _ = scan(log, tz="Africa/Nairobi")
    assert named(events)[0]["ts"] == utc(2026, 11, 18, 6, 15, 1, 223000)


@pytest.mark.parametrize(
    ("header", "ts", "logger"),
    [
        ("2026-11-18 09:15:01,223 {L} app.members: insert failed", "09:15:01.223", "app.members"),
        ("[2026-11-18 09:15:01,223] {L} in members: insert failed", "09:15:01.223", "members"),
        ("2026-11-18 09:15:01,223 - app.members - {L} - insert failed", "09:15:01.223", "app.members"),
        ("[2026-11-18 10:15:01 +0100] [8] [{L}] insert failed", "09:15:01", None),
        ("2026-11-18 09:15:01.223 | {L}    | app.members:create:42 - insert failed", "09:15:01.223",
         "app.members"),
        ("{L} 2026-11-18 09:15:01,223 members 8 140 insert failed", "09:15:01.223", None),
        ("app-1  | 2026-11-18 09:15:01,223 {L} app.members: insert failed", "09:15:01.223",
         "app.members"),
    ],
    ids=["default", "flask", "dashes", "gunicorn", "loguru", "django", "compose"],
)
def test_header_layouts(tmp_path: Path, header: str, ts: str, logger: str | None) -> None:
    prefix = "app-1  | " if header.startswith("app-1") else ""
    noise = "".join(header.replace("{L}", "INFO").replace("insert failed", f"tick {i}") + "\n"
                    for i in range(3))
    trace = "".join(prefix + line + "\n" for line in FRAMES.splitlines())
    text = noise + header.replace("{L}", "ERROR") + "\n" + trace + prefix + (
        f"postgrest.exceptions.APIError: {REPR}\n"
    )
    log = tmp_path / "app.log"
    log.write_text(text)
    events, stats = scan(log)
    assert stats["formats"] == {"python_logging": 1}
    (event,) = named(events)
    assert event["ts"].isoformat() == f"2026-11-18T{ts}" + ("000" if "." in ts else "") + "+00:00"
    assert event["level"] == "error"
    assert event["record_no"] == 4
    if logger:
        assert event["detail"] == logger


def test_uvicorn_and_basic_config_without_time(tmp_path: Path) -> None:
    log = tmp_path / "api.log"
    log.write_text(
        "INFO:     Started server process [1]\n"
        "INFO:     Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)\n"
        'INFO:     172.18.0.1:40210 - "POST /pools HTTP/1.1" 500 Internal Server Error\n'
        "ERROR:    Exception in ASGI application\n"
        + FRAMES
        + f"postgrest.exceptions.APIError: {REPR}\n"
        + f"ERROR:root:insert failed: {python_repr('doseLogs', 'patients')}\n"
    )
    events, stats = scan(log)
    assert stats["formats"] == {"python_logging": 1}
    errors = named(events)
    assert [(e["record_no"], e["column"], e["ts"], e["level"]) for e in errors] == [
        (4, "adminname", None, "error"),
        (12, "doseLogs", None, "error"),
    ]
    assert errors[1]["detail"] == "root"


@pytest.mark.parametrize(("column", "table"), HOSTILE_NAMES)
def test_hostile_names_survive_python_quoting(tmp_path: Path, column: str, table: str) -> None:
    log = tmp_path / "app.log"
    text = (
        "2026-11-18 09:14:00,000 INFO app: started\n"
        "2026-11-18 09:15:01,223 ERROR app.members: insert failed\n"
        + FRAMES
        + f"postgrest.exceptions.APIError: {python_repr(column, table)}\n"
        + f"2026-11-18 09:16:00,000 WARNING app.members: retry failed: {python_repr(column, table)}\n"
    )
    log.write_text(text, encoding="utf-8")
    events, _ = scan(log)
    assert [(e["table"], e["column"]) for e in named(events)] == [(table, column)] * 2


def test_crlf_and_invalid_utf8(tmp_path: Path) -> None:
    log = tmp_path / "win.log"
    data = BOT_LOG.replace("\n", "\r\n").encode()
    # a mangled byte inside the traceback's last line, as a bad terminal paste leaves it
    data = data.replace(b"postgrest.exceptions.APIError", b"postgrest.exceptions.API\xffError", 1)
    log.write_bytes(data)
    events, stats = scan(log)
    reference, _ = scan(_write(tmp_path / "unix.log", BOT_LOG))
    assert [(e["record_no"], e["ts"], e["table"], e["column"]) for e in named(events)] == [
        (e["record_no"], e["ts"], e["table"], e["column"]) for e in named(reference)
    ]
    assert all("\r" not in (e["raw"] or "") for e in events)
    assert stats["invalid_utf8_lines"] >= 1
    assert stats["formats"] == {"python_logging": 1}


def test_a_one_megabyte_line(tmp_path: Path) -> None:
    payload = "x" * (1 << 20)
    log = tmp_path / "big.log"
    log.write_text(
        "2026-11-18 09:14:00,000 INFO app: started\n"
        f"2026-11-18 09:15:01,223 ERROR app: row={payload} failed: {REPR}\n"
        "2026-11-18 09:16:00,000 INFO app: still running\n"
    )
    events, _ = scan(log)
    (event,) = named(events)
    assert (event["column"], event["line_no"]) == ("adminname", 2)
    assert len(event["raw"]) <= 4000


@pytest.mark.parametrize("chunk", [64, 181, 1000])
def test_records_split_across_chunks(tmp_path: Path, chunk: int) -> None:
    log = _write(tmp_path / "bot.log", BOT_LOG * 3)
    reference, _ = scan(log)
    events, stats = scan(log, chunk_bytes=chunk, default_format="python_logging")
    assert stats["lines_read"] == (BOT_LOG * 3).count("\n")

    def records(rows: list[dict]) -> set[tuple]:
        return {(e["record_no"], e["ts"], e["table"], e["column"]) for e in named(rows)}

    assert records(events) == records(reference)
    assert len(records(events)) == 12
    assert all(e["ts"] is not None for e in named(events))
    chunked = document(scan_paths([str(log)], ScanOptions(chunk_bytes=chunk)))
    assert chunked["incidents"] == document(scan_paths([str(log)]))["incidents"]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
