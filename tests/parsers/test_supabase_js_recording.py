"""What the real supabase-js (postgrest-js 2.x) prints on Node 20, scanned.

`fixtures/supabase_js/node20_supabase_js.log` was recorded by `fixtures/supabase_js/record.py`
(the real client against a real PostgreSQL behind the loopback PostgREST-compatible server);
the tests read the committed recording and never need npm.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from runbook.ingest.scan import ScanOptions, document, scan_paths

RECORDING = Path(__file__).parent / "fixtures" / "supabase_js" / "node20_supabase_js.log"
LINES = RECORDING.read_text().splitlines()


def line_of(needle: str, nth: int = 0) -> int:
    return [i + 1 for i, line in enumerate(LINES) if needle in line][nth]


def scanned() -> tuple[pl.DataFrame, dict]:
    result = scan_paths([str(RECORDING)], ScanOptions())
    return result.events, document(result)


def test_every_printed_error_is_one_event_at_its_own_record() -> None:
    events, doc = scanned()
    assert doc["stats"]["formats"] == {"node_console": 1}
    errors = events.filter(pl.col("code") == "PGRST204")
    # the `code: 'PGRST204',` line of each object is merged into its message line
    assert errors.filter(pl.col("table").is_null()).height == 0
    rows = errors.sort("line_no").select("record_no", "column").rows()
    assert rows == [
        (line_of("insert failed {"), "telegram_handle"),  # console.error("insert failed", error)
        (line_of("retrying member 322"), "telegram_handle"),  # console.error(error) after a line
        (line_of("upsert result:"), "tg_handle"),  # the whole { error, data, status } response
        (line_of("PostgrestError:"), "telegram_handle"),  # uncaught .throwOnError()
    ]


def test_times_come_only_from_lines_that_carry_one() -> None:
    events, _ = scanned()
    by_record = {r: ts for r, ts in events.select("record_no", "ts").rows()}
    stamp = LINES[line_of("upsert result:") - 1].split(" ", 1)[0]
    assert by_record[line_of("upsert result:")] == datetime.fromisoformat(stamp).astimezone(UTC)
    # console.error adds no time: the labelled object and the crash trace are untimed records
    assert by_record[line_of("insert failed {")] is None
    assert by_record[line_of("PostgrestError:")] is None


def test_the_crash_trace_is_one_record_and_its_footer_no_event() -> None:
    events, doc = scanned()
    trace = events.filter(pl.col("record_no") == line_of("PostgrestError:"))
    assert trace.height == 1
    assert not events.filter(pl.col("line_no") >= line_of("Node.js v20")).height
    counts = {(i["table"], i["column"]): i["count"] for i in doc["incidents"]}
    assert counts == {("members", "telegram_handle"): 3, ("members", "tg_handle"): 1}
