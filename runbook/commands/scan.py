"""`pgrst-runbook scan PATH...`: find PGRST204 incidents in logs, for people or scripts."""

from __future__ import annotations

import argparse
import json
import sys

from runbook.commands.common import (
    add_input_arguments,
    default_paths,
    scan_options,
    stderr_progress,
)
from runbook.errors import RunbookError
from runbook.exit_codes import Exit
from runbook.incidents.compaction import fold
from runbook.ingest.scan import UnknownFormat, document, scan_paths
from runbook.redact import masking_output
from runbook.report.scan_render import render_markdown, render_table, terminal_width
from runbook.samples import SampleLogsMissing


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "scan",
        help="find PGRST204 incidents in logs",
        description=(
            "Scan application, PostgREST, Supabase-export and PostgreSQL logs for PGRST204 "
            "schema-cache incidents, grouped by table and column, with the migrations and cache "
            "reloads around them."
        ),
        epilog=(
            "exit codes: 0 ok (also with incidents, unless --fail-on-incidents); "
            "1 incidents found with --fail-on-incidents; 2 usage error; "
            "3 an input could not be read, or only in part (a compressed stream cut or "
            "expanding past --max-ratio, a file truncated or replaced while read; the others "
            "were still scanned), or no log file was found at all"
        ),
    )
    add_input_arguments(parser, default_sample=True)
    parser.add_argument(
        "--format", choices=("table", "json", "markdown"), default="table", help="output (default table)"
    )
    parser.add_argument(
        "--fail-on-incidents", action="store_true", help="exit 1 when any incident is found (for CI)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    parser.set_defaults(handler=run)
    return parser


@masking_output
def run(args: argparse.Namespace) -> int:
    try:
        paths = default_paths(args.paths)
    except SampleLogsMissing as exc:
        print(f"pgrst-runbook: {exc}", file=sys.stderr)
        return Exit.USAGE
    options = scan_options(args)
    options.progress = stderr_progress(not args.no_progress, paths)
    try:
        # only the document is made: folded as read, memory follows incidents, not lines
        result = scan_paths(paths, options, fold=fold)
    except UnknownFormat as exc:
        print(f"pgrst-runbook: {exc}", file=sys.stderr)
        return Exit.USAGE
    except RunbookError as exc:  # a log store that cannot be reached or rejects the token
        print(f"pgrst-runbook: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    if options.progress:
        sys.stderr.write("\r\x1b[K")
    doc = document(result)
    if args.format == "json":
        # One write of one string: `json.dump` to a stream writes it piece by piece.
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    elif args.format == "markdown":
        sys.stdout.write(render_markdown(doc))
    else:
        sys.stdout.write(render_table(doc, terminal_width()))
    for problem in doc["stats"]["unreadable"]:
        print(f"pgrst-runbook: cannot read {problem['source']}: {problem['reason']}", file=sys.stderr)
    stats = doc["stats"]
    for partial in stats["partial"]:
        print(f"pgrst-runbook: {partial['source']}: {partial['reason']}", file=sys.stderr)
    for skipped in stats.get("skipped", []):
        print(
            f"pgrst-runbook: {skipped['source']}: {skipped['lines']:,} candidate line(s) matched "
            f"no parser of its format ({skipped['format']})",
            file=sys.stderr,
        )
    if stats["unreadable"] or stats["partial"]:
        return Exit.INPUT
    if not stats["files"] and not stats.get("stores"):
        print(f"pgrst-runbook: no log file found in {' '.join(paths)}: nothing was read", file=sys.stderr)
        return Exit.INPUT
    if args.fail_on_incidents and doc["incidents"]:
        return Exit.FOUND
    return Exit.OK
