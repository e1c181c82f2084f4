"""Node console output (supabase-js errors via console.error) through the real scan pipeline."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from runbook.ingest.scan import ScanOptions, document, scan_paths
from tests.parsers.client_errors import HOSTILE_NAMES, inspect_object, message, old_message

OBJ = inspect_object("telegram_handle", "members")

WORKER = [
    "",
    "> sync-telegram@1.3.0 start",
    "> node src/index.js",
    "",
    "(node:1) [DEP0040] DeprecationWarning: The `punycode` module is deprecated. Please use a "
    "userland alternative instead.",
    "(Use `node --trace-deprecation ...` to show where the warning was created)",
    "2026-11-18T09:14:41.902Z sync-telegram: worker v1.3.0 started",
    # console.error("...", error): the label and the object's `{` share a line
    "2026-11-18T09:15:01.223Z Error creating member: {",
    *OBJ[1:],
    # the label on its own line, then console.error(error)
    "2026-11-18T09:15:02.500Z update failed for member 322",
    *OBJ,
    # a second object right after the first, with no label: its own record, no time
    *OBJ,
    # postgrest-js's PostgrestError class, with its stack
    "PostgrestError: " + message("telegram_handle", "members"),
    "    at PostgrestBuilder.then (/app/node_modules/@supabase/postgrest-js/dist/cjs/"
    "PostgrestBuilder.js:128:23)",
    "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5) {",
    "  details: null,",
    "  hint: null,",
    "  code: 'PGRST204'",
    "}",
    # an Error rethrown with only the message: code lost, old wording
    "Error: " + old_message("tg_handle", "members"),
    "    at syncMember (/app/src/sync.js:41:11)",
    "    at async Promise.all (index 0)",
    # the whole { data, error } response printed
    "2026-11-18T09:15:04.000Z upsert result: {",
    "  error: {",
    "    code: 'PGRST204',",
    "    details: null,",
    "    hint: null,",
    "    message: \"Could not find the 'telegram_verified_at' column of 'members' in the schema cache\"",
    "  },",
    "  data: null,",
    "  count: null,",
    "  status: 400,",
    "  statusText: 'Bad Request'",
    "}",
    # decoys: another code, and an alert line naming the code only
    "2026-11-18T09:15:05.000Z lookup failed: {",
    "  code: 'PGRST116',",
    "  details: 'The result contains 0 rows',",
    "  hint: null,",
    "  message: 'JSON object requested, multiple (or no) rows returned'",
    "}",
    "2026-11-18T09:15:06.000Z alert: PGRST204 seen 3 times in 5 minutes",
    "2026-11-18T09:15:07.000Z sync-telegram: batch finished: 0 updated, 6 failed",
]


def write(path: Path, lines: list[str], newline: str = "\n") -> Path:
    path.write_text(newline.join(lines) + newline, encoding="utf-8", newline="")
    return path


def scan(path: Path, **options) -> tuple[list[dict], dict]:
    result = scan_paths([str(path)], ScanOptions(**options))
    return result.events.to_dicts(), result.stats()


def named(events: list[dict]) -> list[dict]:
    return [e for e in events if e["code"] == "PGRST204" and e["table"] is not None]


def line_of(lines: list[str], needle: str, nth: int = 0) -> int:
    return [i + 1 for i, line in enumerate(lines) if needle in line][nth]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_one_event_per_printed_object(tmp_path: Path) -> None:
    events, stats = scan(write(tmp_path / "worker.log", WORKER))
    assert stats["formats"] == {"node_console": 1}
    rows = sorted((e["record_no"], e["ts"], e["column"]) for e in named(events))
    assert rows == [
        (line_of(WORKER, "Error creating member"), utc(2026, 11, 18, 9, 15, 1, 223000), "telegram_handle"),
        (line_of(WORKER, "member 322"), utc(2026, 11, 18, 9, 15, 2, 500000), "telegram_handle"),
        (line_of(WORKER, "}", 1), None, "telegram_handle"),
        (line_of(WORKER, "PostgrestError:"), None, "telegram_handle"),
        (line_of(WORKER, "Error: Column"), None, "tg_handle"),
        (line_of(WORKER, "upsert result"), utc(2026, 11, 18, 9, 15, 4), "telegram_verified_at"),
    ]
    assert {e["table"] for e in named(events)} == {"members"}
    # the `code: 'PGRST204',` line of each object is merged into its message line
    code_lines = {i + 1 for i, line in enumerate(WORKER) if "code: 'PGRST204'" in line}
    assert not [e for e in events if e["line_no"] in code_lines]
    # the alert line is a bare mention; PGRST116 is not PGRST204
    alert = [e for e in events if e["line_no"] == line_of(WORKER, "alert:")]
    assert [(e["code"], e["table"]) for e in alert] == [("PGRST204", None)]
    assert len([e for e in events if e["code"] == "PGRST204"]) == 7


@pytest.mark.parametrize(
    ("prefix", "time_prefix"),
    [("0|worker  | ", ""), ("0|worker  | ", "2026-11-18T09:15:01: "), ("sync-1  | ", "")],
    ids=["pm2", "pm2-time", "compose"],
)
def test_process_manager_prefixes(tmp_path: Path, prefix: str, time_prefix: str) -> None:
    lines = [
        "2026-11-18T09:14:00.000Z worker started",
        "2026-11-18T09:15:01.223Z Error creating member: {",
        *OBJ[1:],
        "Error: " + old_message("tg_handle", "members"),
        "    at syncMember (/app/src/sync.js:41:11)",
    ]
    stamped = [prefix + time_prefix + line for line in lines]
    events, stats = scan(write(tmp_path / "pm2.log", stamped))
    assert stats["formats"] == {"node_console": 1}
    errors = named(events)
    assert [(e["record_no"], e["column"]) for e in errors] == [(2, "telegram_handle"), (8, "tg_handle")]
    assert errors[0]["ts"] == utc(2026, 11, 18, 9, 15, 1, 0 if time_prefix else 223000)
    assert errors[1]["ts"] == (utc(2026, 11, 18, 9, 15, 1) if time_prefix else None)


def test_pino_pretty(tmp_path: Path) -> None:
    lines = [
        "[2026-11-18 09:14:00.000 +0000] INFO (4242 on api-7f9c): server listening",
        "[2026-11-18 09:15:01.223 +0000] ERROR (4242 on api-7f9c): insert failed",
        "    err: {",
        '      "type": "PostgrestError",',
        f'      "message": "{message("dose_logs", "patients")}",',
        '      "code": "PGRST204"',
        "    }",
    ]
    events, stats = scan(write(tmp_path / "api.log", lines))
    assert stats["formats"] == {"node_console": 1}
    (event,) = named(events)
    assert (event["ts"], event["level"], event["column"]) == (
        utc(2026, 11, 18, 9, 15, 1, 223000), "error", "dose_logs")


def test_naive_per_line_time_in_the_given_zone(tmp_path: Path) -> None:
    lines = ["0|worker  | 2026-11-18T09:15:01: " + line
             for line in ["Error creating member: {", *OBJ[1:]]]
    events, _ = scan(write(tmp_path / "pm2.log", lines), tz="Asia/Kolkata")
    assert named(events)[0]["ts"] == utc(2026, 11, 18, 3, 45, 1)


@pytest.mark.parametrize(("column", "table"), HOSTILE_NAMES)
def test_hostile_names_survive_inspect_quoting(tmp_path: Path, column: str, table: str) -> None:
    lines = [
        "2026-11-18T09:14:00.000Z worker started",
        "2026-11-18T09:15:01.223Z Error creating member: {",
        *inspect_object(column, table)[1:],
        "Error: " + old_message(column, table),
        "    at syncMember (/app/src/sync.js:41:11)",
    ]
    events, _ = scan(write(tmp_path / "worker.log", lines))
    assert [(e["table"], e["column"]) for e in named(events)] == [(table, column)] * 2


def test_crlf_and_invalid_utf8(tmp_path: Path) -> None:
    path = write(tmp_path / "win.log", WORKER, newline="\r\n")
    path.write_bytes(path.read_bytes().replace(b"details: null", b"details: '\xe9\xff'", 1))
    events, stats = scan(path)
    reference, _ = scan(write(tmp_path / "unix.log", WORKER))
    assert [(e["record_no"], e["ts"], e["table"], e["column"]) for e in named(events)] == [
        (e["record_no"], e["ts"], e["table"], e["column"]) for e in named(reference)
    ]
    assert stats["formats"] == {"node_console": 1}


def test_invalid_utf8_in_a_candidate_line_is_counted(tmp_path: Path) -> None:
    lines = ["2026-11-18T09:15:01.223Z Error creating member: {", *OBJ[1:]]
    path = write(tmp_path / "bad.log", lines)
    path.write_bytes(path.read_bytes().replace(b"Could not", b"\xffCould not"))
    events, stats = scan(path)
    assert [e["column"] for e in named(events)] == ["telegram_handle"]
    assert stats["invalid_utf8_lines"] == 1


def test_a_one_megabyte_label_line(tmp_path: Path) -> None:
    lines = [
        "2026-11-18T09:14:00.000Z worker started",
        "2026-11-18T09:15:01.223Z Error creating member " + "x" * (1 << 20) + ": {",
        *OBJ[1:],
    ]
    events, _ = scan(write(tmp_path / "big.log", lines))
    (event,) = named(events)
    assert (event["record_no"], event["ts"]) == (2, utc(2026, 11, 18, 9, 15, 1, 223000))
    assert len(event["raw"]) <= 4000


@pytest.mark.parametrize("chunk", [64, 200, 1500])
def test_objects_split_across_chunks(tmp_path: Path, chunk: int) -> None:
    path = write(tmp_path / "worker.log", WORKER * 3)
    reference = scan_paths([str(path)])
    result = scan_paths([str(path)], ScanOptions(chunk_bytes=chunk, default_format="node_console"))

    def records(rows: list[dict]) -> set[tuple]:
        return {(e["record_no"], e["ts"], e["table"], e["column"]) for e in named(rows)}

    assert records(result.events.to_dicts()) == records(reference.events.to_dicts())
    assert len(records(reference.events.to_dicts())) == 18
    assert document(result)["incidents"] == document(reference)["incidents"]


def test_a_chatty_log_whose_first_lines_show_nothing_of_node_still_counts_each_object(tmp_path: Path) -> None:
    """Hundreds of plain lines first (nothing there says Node), then `console.error(error)`
    blocks: whatever format the first lines choose, each printed object is one failure, with
    its table and column, and its `code:` line is not a second one."""
    lines = [f"handled update {i} for chat {i * 7} in {i % 90}ms" for i in range(300)]
    for n in range(3):
        lines += ["insert failed", *inspect_object("adminname", "mypoolr"), f"handled update {n} ok"]
    doc = document(scan_paths([str(write(tmp_path / "bot.log", lines))], ScanOptions()))
    assert [(i["table"], i["column"], i["count"]) for i in doc["incidents"]] == [("mypoolr", "adminname", 3)]
    assert not doc["related"]
