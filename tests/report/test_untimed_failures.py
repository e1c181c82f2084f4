"""Failures whose lines carry no time, after the last schema cache load.

The worker log is a Node process's output (the shapes of sample_logs/stale-cache/worker.log and
of the recorded supabase-js 2.x `.throwOnError()` crash in tests/parsers/fixtures/supabase_js/);
PostgREST's stderr is the v16 reload sequence of reference/postgrest.md 2.3.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runbook.diagnosis.logs_verdict import LogInputs, log_facts
from runbook.ingest.scan import ScanResult, document, scan_paths
from runbook.report.incident_report import build_report

FIXTURE = Path(__file__).resolve().parents[1] / "parsers/fixtures/supabase_js/node20_supabase_js.log"
MESSAGE = "Could not find the 'telegram_handle' column of 'members' in the schema cache"
LOAD_AT = "2026-10-06T10:05:00+00:00"


def failure(ts: str, member: int) -> str:
    return (
        f"{ts} sync-telegram: update failed for member {member}\n"
        "{\n  code: 'PGRST204',\n  details: null,\n  hint: null,\n"
        f'  message: "{MESSAGE}"\n}}\n'
    )


def crash() -> str:
    """The recorded `.throwOnError()` crash: no line of it carries a time."""
    lines = FIXTURE.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("file:///"))
    return "".join(lines[start:])


def postgrest_log() -> str:
    stamp = "06/Oct/2026:10:05:00 +0000"
    return "".join(
        f"{stamp}: {line}\n"
        for line in (
            'Received a schema cache reload message on the "pgrst" channel',
            "Schema cache queried in 9.8 milliseconds ",
            "Schema cache loaded 12 Relations, 14 Relationships, 6 RPCs, 0 Domain "
            "Representations, 4 Media Type Handlers",
            "Schema cache loaded in 0.1 milliseconds",
        )
    )


def scan(tmp_path: Path, worker: str) -> tuple[dict[str, Any], ScanResult]:
    (tmp_path / "worker.log").write_text(worker, encoding="utf-8")
    (tmp_path / "postgrest.log").write_text(postgrest_log(), encoding="utf-8")
    result = scan_paths([str(tmp_path)])
    doc: dict[str, Any] = document(result)
    (incident,) = doc["incidents"]
    assert incident["context"]["last_load"]["ts"] == LOAD_AT
    return doc, result


def test_an_untimed_failure_below_a_later_line_counts_after_the_load(tmp_path: Path) -> None:
    assert "PostgrestError: " + MESSAGE in crash()
    doc, result = scan(
        tmp_path,
        failure("2026-10-06T10:00:00.516Z", 318) + failure("2026-10-06T10:06:00.516Z", 322) + crash(),
    )
    incident = doc["incidents"][0]
    ctx = incident["context"]
    assert incident["count"] == 3
    assert ctx["untimed_errors"] == 1
    assert ctx["untimed_after_last_load"] == 1
    assert ctx["untimed_unplaced"] == 0
    assert ctx["errors_after_last_load"] == 2  # one timed, one placed by its neighbour
    facts = log_facts(incident, LogInputs.of(doc, result.events))
    load = next(r for r in facts.reloads if r.kind == "cache_load")
    assert load.ts is not None
    assert facts.errors_after(load.ts) == 2  # run --logs counts as scan does
    report = build_report(doc, events=result.events)
    assert any("1 of the 1 failure(s) whose lines carry no time lie after" in s
               for s in report.root_cause["logs_prove"])


def test_an_untimed_failure_between_lines_either_side_of_the_load_is_unplaced(
    tmp_path: Path,
) -> None:
    doc, result = scan(
        tmp_path,
        failure("2026-10-06T10:00:00.516Z", 318) + crash() + failure("2026-10-06T10:06:00.516Z", 322),
    )
    ctx = doc["incidents"][0]["context"]
    assert (ctx["untimed_after_last_load"], ctx["untimed_unplaced"]) == (0, 1)
    assert ctx["errors_after_last_load"] == 1
    report = build_report(doc, events=result.events)
    assert any("Whether 1 failure(s) whose lines carry no time came before or after" in s
               for s in report.root_cause["logs_cannot"])


def test_a_file_out_of_time_order_places_nothing(tmp_path: Path) -> None:
    """Newest first: the line above the crash is later than the load, but says nothing."""
    doc, _ = scan(
        tmp_path,
        failure("2026-10-06T10:07:00.516Z", 341) + failure("2026-10-06T10:00:00.516Z", 318)
        + failure("2026-10-06T10:06:00.516Z", 322) + crash(),
    )
    ctx = doc["incidents"][0]["context"]
    assert (ctx["untimed_after_last_load"], ctx["untimed_unplaced"]) == (0, 1)
    assert ctx["errors_after_last_load"] == 2
