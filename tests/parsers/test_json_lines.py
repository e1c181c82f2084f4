"""JSON-lines files from structured loggers through the real scan pipeline."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runbook.ingest.scan import ScanOptions, document, scan_paths
from tests.parsers.client_errors import HOSTILE_NAMES, body, message, old_message, python_repr

T0 = 1794993301223  # 2026-11-18T09:15:01.223Z in epoch milliseconds


def dumps(obj: dict) -> str:
    return json.dumps(obj)


def traceback_text(column: str, table: str) -> str:
    return (
        "Traceback (most recent call last):\n"
        '  File "/app/community/signup.py", line 88, in create_member\n'
        '    supabase.table("members").insert(row).execute()\n'
        "postgrest.exceptions.APIError: " + python_repr(column, table)
    )


# python-json-logger: asctime/levelname/name/message plus `extra` keys at top level
PYTHON_JSON = [
    dumps({"asctime": "2026-11-18 09:14:58,002", "levelname": "INFO", "name": "community.http",
           "message": "request completed", "request_id": "req_1", "method": "GET",
           "path": "/api/clubs", "status": 200}),
    # flattened by a structured logger: the message says nothing, the fields say everything
    dumps({"asctime": "2026-11-18 09:15:01,223", "levelname": "WARNING", "name": "community.db",
           "message": "PostgREST schema cache mismatch detected", "request_id": "req_2",
           "error_code": "PGRST204", "table": "members", "column": "telegram_handle"}),
    # exc.json() logged as a nested object, and the formatted traceback in exc_info
    dumps({"asctime": "2026-11-18 09:15:01,225", "levelname": "ERROR", "name": "community.signup",
           "message": "signup failed", "request_id": "req_2", "method": "POST",
           "path": "/api/signup", "status": 502,
           "error": body("telegram_handle", "members"),
           "exc_info": traceback_text("telegram_handle", "members")}),
    # an alert rule that names the code: never a named error
    dumps({"asctime": "2026-11-18 09:15:02,000", "levelname": "INFO", "name": "community.alerts",
           "message": "alert rule loaded: page when PGRST204 exceeds 5/min"}),
    # truncated by the log shipper: malformed, skipped, counted
    dumps({"asctime": "2026-11-18 09:15:03,000", "levelname": "ERROR", "name": "community.db",
           "message": message("telegram_handle", "members"), "request_id": "req_3",
           "duration_ms": 1234567})[:-20],
    # an uncaught traceback printed as text between the objects
    "Traceback (most recent call last):",
    '  File "/app/community/jobs.py", line 12, in run',
    "postgrest.exceptions.APIError: " + python_repr("telegram_verified_at", "members"),
    dumps({"asctime": "2026-11-18 09:16:00,500", "levelname": "ERROR", "name": "community.db",
           "message": "update failed", "error": {"code": "42703", "details": None, "hint": None,
           "message": 'column "telegram_handle" of relation "members" does not exist'}}),
]

# pino: numeric level, epoch-ms time, msg, err; pino-http's req/res; npm's banner before it
PINO = [
    "",
    "> medtrack-api@2.9.0 start",
    "> node dist/server.js",
    "",
    dumps({"level": 30, "time": T0 - 60000, "pid": 19, "hostname": "api-7c9d",
           "msg": "medtrack-api 2.9.0 listening on :8080"}),
    dumps({"level": 50, "time": T0, "pid": 19, "hostname": "api-7c9d", "reqId": "r-ae23",
           "req": {"method": "POST", "url": "/v1/patients"},
           "err": {"type": "PostgrestError", "code": "PGRST204", "details": None, "hint": None,
                   "message": old_message("doseLogs", "patients"),
                   "stack": "PostgrestError: " + old_message("doseLogs", "patients")
                   + "\n    at PostgrestBuilder.then (/app/node_modules/x.js:128:23)"},
           "msg": "create patient failed"}),
    dumps({"level": 40, "time": T0 + 1000, "pid": 19, "hostname": "api-7c9d", "reqId": "r-5d0c",
           "err": {"code": "PGRST116", "details": "The result contains 0 rows", "hint": None,
                   "message": "JSON object requested, multiple (or no) rows returned"},
           "msg": "lookup found nothing"}),
    dumps({"level": 60, "time": T0 + 2000, "pid": 19, "hostname": "api-7c9d",
           "context": {"error": {"code": "PGRST205", "details": None, "hint": None,
                                 "message": "Could not find the table 'public.dose_log' in the schema cache"}},
           "msg": "worker crashed"}),
]

# structlog JSONRenderer with TimeStamper(fmt="iso") and format_exc_info; winston; bunyan
OTHERS = [
    dumps({"event": "create_pool failed", "level": "error", "logger": "bot",
           "timestamp": "2026-11-18T09:15:01.223456Z",
           "exception": traceback_text("adminname", "mypoolr")}),
    dumps({"level": "error", "message": "Error creating member: " + message("nick", "members"),
           "code": "PGRST204", "details": None, "hint": None,
           "timestamp": "2026-11-18T10:15:02.000+01:00", "requestId": "w-1"}),
    dumps({"name": "sync", "hostname": "h", "pid": 3, "level": 50, "v": 0,
           "time": "2026-11-18T09:15:03.000Z", "msg": "sync failed",
           "err": {"name": "PostgrestError", "message": message("tg", "members"), "code": "PGRST204"}}),
    dumps({"@timestamp": "2026-11-18T09:15:04Z", "log.level": "warn", "message": "retrying",
           "pgrst_code": "PGRST204", "schema": "api", "table": "members", "column": "nick name"}),
]


def write(path: Path, lines: list[str], newline: str = "\n") -> Path:
    path.write_text(newline.join(lines) + newline, encoding="utf-8", newline="")
    return path


def scan(path: Path, **options) -> tuple[list[dict], dict]:
    result = scan_paths([str(path)], ScanOptions(**options))
    return result.events.to_dicts(), result.stats()


def named(events: list[dict], code: str = "PGRST204") -> list[dict]:
    return [e for e in events if e["code"] == code and e["table"] is not None]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_python_json_logger_flattened_nested_and_text(tmp_path: Path) -> None:
    events, stats = scan(write(tmp_path / "app.jsonl", PYTHON_JSON))
    assert stats["formats"] == {"json_lines": 1}
    rows = [(e["line_no"], e["ts"], e["table"], e["column"], e["request_id"], e["level"])
            for e in named(events)]
    assert rows == [
        (2, utc(2026, 11, 18, 9, 15, 1, 223000), "members", "telegram_handle", "req_2", "warning"),
        (3, utc(2026, 11, 18, 9, 15, 1, 225000), "members", "telegram_handle", "req_2", "error"),
        # the text traceback takes the time of the record above it (a cut object: its time is
        # still readable)
        (8, utc(2026, 11, 18, 9, 15, 3), "members", "telegram_verified_at", None, None),
    ]
    flattened, nested = named(events)[:2]
    assert flattened["message"] == "PostgREST schema cache mismatch detected"
    assert flattened["detail"] == "community.db"
    assert (nested["method"], nested["path"], nested["status"]) == ("POST", "/api/signup", 502)
    assert [(e["code"], e["table"]) for e in events if e["line_no"] == 4] == [("PGRST204", None)]
    (db_error,) = named(events, "42703")
    assert (db_error["kind"], db_error["column"]) == ("db_error", "telegram_handle")
    # the truncated object: no event, counted as skipped
    assert not [e for e in events if e["line_no"] == 5]
    assert stats["lines_skipped"] >= 1
    assert not [e for e in events if e["request_id"] == "req_3"]


def test_traceback_rendered_twice_counts_once(tmp_path: Path) -> None:
    # structlog's `.exception()` through a stdlib handler: the JSON, then the same traceback
    lines = [
        dumps({"event": "sync failed", "level": "error", "timestamp": "2026-11-18T09:15:01Z",
               "exception": traceback_text("adminname", "mypoolr")}),
        *traceback_text("adminname", "mypoolr").splitlines(),
        dumps({"event": "sync done", "level": "info", "timestamp": "2026-11-18T09:15:02Z"}),
    ]
    events, stats = scan(write(tmp_path / "worker.jsonl", lines))
    assert stats["formats"] == {"json_lines": 1}
    assert [(e["line_no"], e["ts"], e["column"]) for e in named(events)] == [
        (1, utc(2026, 11, 18, 9, 15, 1), "adminname")
    ]


def test_naive_asctime_in_the_given_zone(tmp_path: Path) -> None:
    events, _ = scan(write(tmp_path / "app.jsonl", PYTHON_JSON), tz="America/New_York")
    assert named(events)[0]["ts"] == utc(2026, 11, 18, 14, 15, 1, 223000)


def test_pino_numeric_level_epoch_ms_and_nested_err(tmp_path: Path) -> None:
    events, stats = scan(write(tmp_path / "api.jsonl", PINO))
    assert stats["formats"] == {"json_lines": 1}
    (event,) = named(events)
    assert (event["ts"], event["level"], event["table"], event["column"]) == (
        utc(2026, 11, 18, 9, 15, 1, 223000), "error", "patients", "doseLogs")
    assert (event["method"], event["path"], event["request_id"]) == ("POST", "/v1/patients", "r-ae23")
    (family,) = named(events, "PGRST205")
    assert (family["schema"], family["table"], family["level"]) == ("public", "dose_log", "critical")
    assert not named(events, "PGRST116")


def test_structlog_winston_bunyan_and_ecs(tmp_path: Path) -> None:
    events, stats = scan(write(tmp_path / "worker.jsonl", OTHERS))
    assert stats["formats"] == {"json_lines": 1}
    rows = [(e["ts"], e["schema"], e["table"], e["column"], e["level"]) for e in named(events)]
    assert rows == [
        (utc(2026, 11, 18, 9, 15, 1, 223456), None, "mypoolr", "adminname", "error"),
        (utc(2026, 11, 18, 9, 15, 2), None, "members", "nick", "error"),
        (utc(2026, 11, 18, 9, 15, 3), None, "members", "tg", "error"),
        (utc(2026, 11, 18, 9, 15, 4), "api", "members", "nick name", "warning"),
    ]
    assert named(events)[0]["detail"] == "bot"
    assert named(events)[1]["request_id"] == "w-1"


@pytest.mark.parametrize("ensure_ascii", [True, False], ids=["escaped", "utf8"])
@pytest.mark.parametrize(("column", "table"), HOSTILE_NAMES)
def test_hostile_names(tmp_path: Path, column: str, table: str, ensure_ascii: bool) -> None:
    lines = [
        json.dumps({"time": T0, "level": 30, "msg": "ok"}),
        json.dumps({"time": T0, "level": 50, "msg": "nested", "err": body(column, table)},
                   ensure_ascii=ensure_ascii),
        json.dumps({"time": T0, "level": 50, "msg": "generic", "error_code": "PGRST204",
                    "table": table, "column": column}, ensure_ascii=ensure_ascii),
        json.dumps({"timestamp": "2026-11-18T09:15:01Z", "level": "error", "event": "x",
                    "exception": traceback_text(column, table)}, ensure_ascii=ensure_ascii),
    ]
    events, _ = scan(write(tmp_path / "app.jsonl", lines))
    assert [(e["table"], e["column"]) for e in named(events)] == [(table, column)] * 3


def test_crlf_and_invalid_utf8(tmp_path: Path) -> None:
    path = write(tmp_path / "win.jsonl", PYTHON_JSON + PINO, newline="\r\n")
    data = path.read_bytes().replace(b"signup failed", b"signup \xff\xfe failed", 1)
    path.write_bytes(data)
    events, stats = scan(path)
    reference, _ = scan(write(tmp_path / "unix.jsonl", PYTHON_JSON + PINO))
    assert [(e["line_no"], e["ts"], e["table"], e["column"]) for e in named(events)] == [
        (e["line_no"], e["ts"], e["table"], e["column"]) for e in named(reference)
    ]
    assert stats["invalid_utf8_lines"] == 1
    assert stats["formats"] == {"json_lines": 1}


def test_a_one_megabyte_line(tmp_path: Path) -> None:
    big = json.dumps({"time": T0, "level": 50, "payload": "x" * (1 << 20), "msg": "insert failed",
                      "err": body("adminname", "mypoolr")})
    events, _ = scan(write(tmp_path / "big.jsonl", [PINO[4], big, PINO[4]]))
    (event,) = named(events)
    assert (event["line_no"], event["ts"], event["column"]) == (
        2, utc(2026, 11, 18, 9, 15, 1, 223000), "adminname")


def test_malformed_lines_never_crash(tmp_path: Path) -> None:
    junk = [
        '{"level": 50, "msg": "' + message("a", "b") + '"',  # unterminated
        '{"level": 50, "msg": "' + message("a", "b") + '"} trailing',
        '{"level": 50, "msg": ' + json.dumps(message("a", "b")) + ', "req": "PGRST204-as-string"}',
        '{"level": [50], "time": {"t": 1}, "msg": ' + json.dumps(message("c", "d")) + "}",
        "{" + "[" * 2000 + "PGRST204",
        '{"msg": "PGRST204", "status": "four hundred", "time": "yesterday"}',
    ]
    events, stats = scan(write(tmp_path / "junk.jsonl", PINO[4:5] + junk))
    # valid objects of odd shapes still give their error; broken ones are skipped and counted
    assert {(e["line_no"], e["table"]) for e in named(events)} == {(4, "b"), (5, "d")}
    assert stats["lines_skipped"] == 3
    assert stats["formats"] == {"json_lines": 1}


@pytest.mark.parametrize("chunk", [64, 333, 4096])
def test_chunk_boundaries(tmp_path: Path, chunk: int) -> None:
    path = write(tmp_path / "app.jsonl", (PYTHON_JSON + PINO + OTHERS) * 3)
    reference = scan_paths([str(path)])
    result = scan_paths([str(path)], ScanOptions(chunk_bytes=chunk, default_format="json_lines"))
    assert result.events.drop("raw").to_dicts() == reference.events.drop("raw").to_dicts()
    assert document(result)["incidents"] == document(reference)["incidents"]
