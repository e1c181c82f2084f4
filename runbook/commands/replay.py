"""`pgrst-runbook replay PATH... --speed N`: replay recorded logs by their own timestamps.

In a terminal it opens the TUI, which fills up as the incident did that day, so a team can
rehearse the runbook on `sample_logs/`. With `--headless` (or `--json`, or when stdout is not
a terminal) it prints the incident stream instead: one line per new incident or count change,
and the cache reloads and migrations between them; `--json` prints the same as JSON lines:

    {"type": "incident", "change": "new", "at": ISO, "incident": {"id", "table", "column",
     "schema", "count", "first_seen", "last_seen"}, "added": N}
    {"type": "event", "kind": "cache_reload"|"cache_load"|"cache_load_failed"|"migration",
     "at": ISO, "message": ..., "source": ..., "line_no": N}
    {"type": "end", "incidents": N, "requests": N, "events": N, "stopped": false}
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

import polars as pl

from runbook.commands.common import add_input_arguments, default_paths, scan_options
from runbook.events import Kind
from runbook.exit_codes import Exit
from runbook.incidents.live import NEW, IncidentChange, IncidentTracker
from runbook.ingest.replay import Clock, replay
from runbook.ingest.scan import ScanOptions, UnknownFormat, scan_paths
from runbook.redact import masking_output
from runbook.samples import SampleLogsMissing
from runbook.terminal import printable

MARKED_KINDS = {
    Kind.CACHE_RELOAD.value: "reload",
    Kind.CACHE_LOAD.value: "loaded",
    Kind.CACHE_LOAD_FAILED.value: "load failed",
    Kind.MIGRATION.value: "migration",
}


def positive_speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"speed must be positive, got {text!r}")
    return value


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "replay",
        help="replay recorded logs at N x speed (TUI, or the incident stream headless)",
        description=(
            "Replay recorded logs by their own timestamps, N times faster, to rehearse the "
            "runbook. Opens the TUI in a terminal; prints the incident stream with --headless."
        ),
        epilog="exit codes: 0 ok; 2 usage error; 3 an input could not be read; 130 interrupted",
    )
    add_input_arguments(parser, default_sample=True)
    parser.add_argument(
        "--speed", type=positive_speed, default=60.0, metavar="N", help="N x real time (default 60)"
    )
    parser.add_argument(
        "--max-gap",
        type=float,
        default=300.0,
        metavar="S",
        help="shorten recorded quiet gaps longer than S seconds to S (default 300; 0 keeps all)",
    )
    parser.add_argument("--headless", action="store_true", help="print the incident stream, no TUI")
    parser.add_argument("--json", action="store_true", help="headless, as JSON lines")
    from runbook.commands.tui import add_runbook_arguments

    add_runbook_arguments(parser)
    parser.set_defaults(handler=run)
    return parser


@masking_output
def run(args: argparse.Namespace) -> int:
    max_gap = args.max_gap if args.max_gap and args.max_gap > 0 else None
    headless = args.headless or args.json or not sys.stdout.isatty()
    if not headless:
        from runbook.commands import tui

        return tui.run(args, replay_speed=args.speed, max_gap=max_gap)
    try:
        paths = default_paths(args.paths)
    except SampleLogsMissing as exc:
        print(f"pgrst-runbook: {exc}", file=sys.stderr)
        return Exit.USAGE
    try:
        return stream(paths, scan_options(args), args.speed, max_gap, as_json=args.json)
    except UnknownFormat as exc:
        print(f"pgrst-runbook: {exc}", file=sys.stderr)
        return Exit.USAGE


def stream(
    paths: list[str],
    options: ScanOptions,
    speed: float,
    max_gap: float | None,
    *,
    as_json: bool = False,
    out: TextIO | None = None,
    clock: Clock | None = None,
) -> int:
    """Scan, then print the incident stream as the replay reaches each event."""
    out = out or sys.stdout
    result = scan_paths(paths, options)
    problems = [(p.name, p.reason) for p in result.problems]
    problems += [(s.source, s.error) for s in result.sources if s.error]
    for name, reason in problems:
        print(f"pgrst-runbook: cannot read {name}: {reason}", file=sys.stderr)
    for stat in result.sources:
        if stat.partial:
            print(f"pgrst-runbook: {stat.source}: {stat.partial}", file=sys.stderr)
            problems.append((stat.source, stat.partial))
    events = result.events
    if not as_json:
        out.write(_banner(events, speed, len(result.sources)))
    tracker = IncidentTracker()
    stopped = False
    try:
        for batch in replay(events, speed, clock=clock, max_gap=max_gap):
            tracker.add(batch.events)
            for row in batch.events.filter(pl.col("kind").is_in(list(MARKED_KINDS))).iter_rows(named=True):
                _write(out, _event_record(row), as_json)
            for change in tracker.changes():
                _write(out, _change_record(change, batch.recorded_at), as_json)
            out.flush()
    except KeyboardInterrupt:
        stopped = True
    incidents = tracker.incidents()
    end = {
        "type": "end",
        "incidents": len(incidents),
        "requests": sum(i.count for i in incidents),
        "events": len(tracker),
        "stopped": stopped,
    }
    _write(out, end, as_json)
    if stopped:
        return Exit.INTERRUPTED
    return Exit.INPUT if problems else Exit.OK


def _banner(events: pl.DataFrame, speed: float, files: int) -> str:
    timed = events["ts"].drop_nulls()
    span = f"{_when(timed.min())} to {_when(timed.max())}" if timed.len() else "no timed events"
    return f"replaying {files} file(s), {events.height:,} events ({span}) at {speed:g}x\n"


def _when(ts: Any) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%SZ") if ts is not None else "-"


def _change_record(change: IncidentChange, at: Any) -> dict[str, Any]:
    inc = change.incident
    return {
        "type": "incident",
        "change": change.kind,
        "at": at.isoformat() if at is not None else None,
        "incident": {
            "id": inc.id,
            "table": inc.table,
            "column": inc.column,
            "schema": inc.schema,
            "count": inc.count,
            "first_seen": inc.first_seen.isoformat() if inc.first_seen else None,
            "last_seen": inc.last_seen.isoformat() if inc.last_seen else None,
        },
        "added": change.added,
    }


def _event_record(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "event",
        "kind": row["kind"],
        "at": row["ts"].isoformat() if row["ts"] is not None else None,
        "message": (row["message"] or row["detail"] or "").split("\n", 1)[0],
        "source": row["source"],
        "line_no": row["line_no"],
    }


def _write(out: TextIO, record: dict[str, Any], as_json: bool) -> None:
    if as_json:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    at = record.get("at")
    stamp = f"[{at[:19].replace('T', ' ')}Z]" if at else "[untimed]            "
    if record["type"] == "incident":
        inc = record["incident"]
        name = printable(f"{inc['table']}.{inc['column']}")
        if record["change"] == NEW:
            line = f"{stamp} {'NEW':<11} {name}  {inc['count']:,} failed request(s)"
        else:
            line = f"{stamp} {'+' + format(record['added'], ','):<11} {name}  {inc['count']:,} failed requests"
    elif record["type"] == "event":
        word = MARKED_KINDS.get(record["kind"], record["kind"])
        line = f"{stamp} {word.upper():<11} {printable(record['message'])}  ({printable(record['source'])}:{record['line_no']})"
    else:
        verb = "stopped" if record["stopped"] else "done"
        line = (
            f"{verb}: {record['incidents']} incident(s), {record['requests']:,} failed requests, "
            f"{record['events']:,} events"
        )
    out.write(line + "\n")
