"""`pgrst-runbook report PATH...`: the incident report (Markdown) and the deployment checklist.

Built from the logs alone, or with `--session JOURNAL` also from what the runbook did.
Output goes to stdout, or atomically to `-o FILE` (an existing file only with `--force`).
`--checklist FILE` creates the checklist, or adds to an existing one what it lacks (ticks and
the person's own lines are kept). `--json` prints the report's data model instead of Markdown.
`SOURCE_DATE_EPOCH` fixes the generation time (reproducible output).

Exit codes: 0 written; 2 usage (no incident, an unknown --incident, a journal for another
incident, a template error, a file that exists without --force); 3 an input could not be read
(the report is still written from the others) or an output could not be written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from runbook.commands.common import add_input_arguments, default_paths, scan_options
from runbook.errors import JournalError, RunbookError
from runbook.exit_codes import Exit
from runbook.ingest.scan import UnknownFormat, document, scan_paths
from runbook.redact import masking_output
from runbook.report.checklist import save_checklist
from runbook.report.findings import JournalView
from runbook.report.incident_report import (
    ReportError,
    build_report,
    read_journal,
    render_report,
    save_text,
    select_incident,
)
from runbook.report.markdown import TemplateProblem
from runbook.samples import SampleLogsMissing
from runbook.steps.journal import Journal
from runbook.terminal import printable

PROG = "pgrst-runbook"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "report",
        help="write the incident report (Markdown) and update the deployment checklist",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog=(
            "exit codes: 0 written; 2 usage (no incident, unknown --incident, journal of another "
            "incident, template error, existing file without --force); 3 unreadable input or "
            "unwritable output"
        ),
    )
    add_input_arguments(parser, default_sample=True)
    parser.add_argument(
        "--session",
        metavar="JOURNAL",
        help="the runbook journal: a .jsonl file, or a session id in the journal directory",
    )
    parser.add_argument("-o", "--output", type=Path, metavar="FILE", help="write the report here")
    parser.add_argument(
        "--checklist",
        type=Path,
        metavar="FILE",
        help="create, or add what is missing to, this checklist",
    )
    parser.add_argument(
        "--templates", type=Path, metavar="DIR", help="templates here override the packaged ones"
    )
    parser.add_argument("--json", action="store_true", help="print the report's data model as JSON")
    parser.add_argument("--force", action="store_true", help="replace an existing -o FILE")
    parser.add_argument(
        "--incident", metavar="ID|N", help="which incident (id, or 1-based number as in scan)"
    )
    parser.set_defaults(handler=run)
    return parser


@masking_output
def run(args: argparse.Namespace) -> int:
    if args.output is not None and args.output.exists() and not args.force:
        return _fail(f"{args.output} exists: use --force to replace it", Exit.USAGE)
    try:
        paths = default_paths(args.paths)
        journal = _journal(args.session) if args.session else None
        result = scan_paths(paths, scan_options(args))
    except (SampleLogsMissing, UnknownFormat, ReportError) as exc:
        return _fail(str(exc), Exit.USAGE)
    except RunbookError as exc:  # a log store that cannot be reached or rejects the token
        return _fail(exc.one_line(), exc.exit_code)
    doc = document(result)
    unreadable = doc["stats"]["unreadable"] + doc["stats"]["partial"]
    for problem in doc["stats"]["unreadable"]:
        _warn(f"cannot read {problem['source']}: {problem['reason']}")
    for problem in doc["stats"]["partial"]:
        _warn(f"{problem['source']}: {problem['reason']}")
    try:
        incident = select_incident(doc, args.incident, journal)
        report = build_report(
            doc, incident=incident, journal=journal, events=result.events, now=_now()
        )
        text = (
            json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
            if args.json
            else render_report(report, args.templates)
        )
        if args.output is None:
            sys.stdout.write(text)
        else:
            save_text(args.output, text, force=args.force)
            _warn(f"report written to {args.output}")
        if args.checklist is not None:
            existed = args.checklist.exists()
            added = save_checklist(args.checklist, report, args.templates)
            if not existed:
                _warn(f"checklist {args.checklist}: created with {len(added)} item(s)")
            elif added:
                _warn(f"checklist {args.checklist}: added {len(added)} item(s)")
            else:
                _warn(f"checklist {args.checklist}: up to date")
    except ReportError as exc:
        return _fail(str(exc), Exit.USAGE)
    except TemplateProblem as exc:
        return _fail(f"template error: {exc}", Exit.USAGE)
    except FileExistsError:
        return _fail(f"{args.output} exists: use --force to replace it", Exit.USAGE)
    except OSError as exc:
        return _fail(f"cannot write: {exc.strerror or exc}", Exit.INPUT)
    return Exit.INPUT if unreadable else Exit.OK


def _journal(value: str) -> JournalView:
    """A journal from a file path, else from a session id in the journal directory."""
    path = Path(value)
    if path.is_file():
        return read_journal(path)
    try:
        journal = Journal.open(value)
    except JournalError as exc:
        raise ReportError(f"--session {value}: not a file, and {exc}") from None
    return read_journal(journal.path)


def _now() -> datetime:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), UTC)
    return datetime.now(UTC)


def _warn(message: str) -> None:
    print(f"{PROG}: {printable(message)}", file=sys.stderr)


def _fail(message: str, code: int) -> int:
    _warn(message)
    return code
