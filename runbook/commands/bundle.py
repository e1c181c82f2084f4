"""`pgrst-runbook bundle -o FILE.tar.gz`: what support asks for, gathered up front, redacted.

Inputs, each optional: `--from-scan FILE` (a `scan --format json` document) or `--logs PATH...`
(scanned here), `--journal SESSION` (a runbook session), and the connection flags (PostgreSQL's
version and the reload-plumbing checks; PostgREST's version). What cannot be gathered is listed
in the manifest, never fatal. Never overwrites an existing file unless `--force`.

Exit codes: 0 written; 2 usage (nothing to bundle, output exists, unreadable scan file or
unknown session); 3 a log path could not be read (the bundle is still written).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import polars as pl

from runbook.commands.common import add_reading_arguments, scan_options
from runbook.commands.connection import add_connection_arguments, settings_from_args
from runbook.errors import RunbookError, UsageError
from runbook.exit_codes import Exit
from runbook.ingest.scan import UnknownFormat, document, scan_paths
from runbook.redact import masking_output
from runbook.report import bundle_collect as collect
from runbook.report.bundle import Bundle, BundleExists, write_bundle
from runbook.terminal import printable

PROG = "pgrst-runbook"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bundle",
        help="gather scan, journal, versions, plumbing checks and log excerpts, redacted",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    p.add_argument("-o", "--output", type=Path, required=True, metavar="FILE.tar.gz")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.add_argument("--from-scan", type=Path, metavar="FILE", help="scan --format json output")
    p.add_argument(
        "--logs", nargs="+", action="extend", default=[], metavar="PATH",
        help="log files or folders to scan (when no --from-scan is given)",
    )  # fmt: skip
    p.add_argument("--journal", metavar="SESSION", help="include this runbook session's journal")
    add_connection_arguments(p)
    add_reading_arguments(p)  # how --logs are read
    p.set_defaults(handler=run)


@masking_output
def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except RunbookError as exc:
        sys.stderr.write(f"{PROG}: {printable(exc.one_line())}\n")
        return exc.exit_code


def _run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    if args.output.exists() and not args.force:
        raise UsageError(f"{args.output} exists", next_step="pass --force to replace it")
    if not (args.from_scan or args.logs or args.journal or collect.database_given(settings)
            or settings.api_url):  # fmt: skip
        raise UsageError(
            "nothing to bundle",
            next_step="give --from-scan FILE, --logs PATH, --journal SESSION or a connection",
        )
    doc, events, origin, unreadable = _scan(args)
    stamp = args.output.name.split(".")[0] or "bundle"
    bundle = Bundle(root=stamp)
    collect.add_scan(bundle, doc, origin)
    if doc is not None:
        collect.add_diagnoses(bundle, doc, events)
        collect.add_excerpts(bundle, doc)
    if args.journal:
        collect.add_journal(bundle, args.journal, settings.journal_dir)
    collect.add_history(bundle, doc, settings.journal_dir)
    versions: dict[str, Any] = {}
    collect.add_database(bundle, settings, versions)
    collect.add_api_version(bundle, settings, versions)
    from_logs = collect.log_versions(events)
    if from_logs:
        versions["postgrest_in_logs"] = from_logs
    bundle.add_json("versions.json", versions, "PostgreSQL and PostgREST versions, where visible")
    for source, reason in unreadable:
        bundle.note(f"log {source}: {reason}")
    try:
        path = write_bundle(args.output, bundle, force=args.force)
    except BundleExists:
        raise UsageError(f"{args.output} exists", next_step="pass --force to replace it") from None
    except OSError as exc:
        raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    files = len(bundle.members) + 2
    redacted = sum(sum(m.redactions.values()) for m in bundle.members)
    sys.stdout.write(
        f"Wrote {path} ({files} files, {redacted} secrets masked"
        + (f", {len(bundle.notes)} parts not gathered: see MANIFEST.md" if bundle.notes else "")
        + ")\n"
    )
    return Exit.INPUT if unreadable else Exit.OK


def _scan(
    args: argparse.Namespace,
) -> tuple[dict[str, Any] | None, pl.DataFrame | None, str, list[tuple[str, str]]]:
    """(document, events or None, where it came from, unreadable inputs)."""
    if args.from_scan:
        try:
            doc = json.loads(args.from_scan.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"cannot read scan output {args.from_scan}: {exc}") from None
        if not isinstance(doc, dict):
            raise UsageError(f"{args.from_scan} is not a scan --format json document")
        return doc, None, f"from {args.from_scan.name}", []
    if not args.logs:
        return None, None, "", []
    try:
        result = scan_paths(list(args.logs), scan_options(args))
    except UnknownFormat as exc:
        raise UsageError(str(exc)) from None
    doc = document(result)
    unreadable = [
        (u["source"], u["reason"]) for u in doc["stats"]["unreadable"] + doc["stats"]["partial"]
    ]
    return doc, result.events, "scanned from --logs", unreadable
