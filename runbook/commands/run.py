"""`pgrst-runbook run`: inspect, diagnose, reload (with consent) and verify one incident.

Targets: `--table T --column C [--schema S]`, or `--from-scan FILE` (the `scan --format json`
output; every incident, or `--incident N`), or `--logs PATH...` (every incident in them), or
`--resume SESSION`. Logs given by `--logs` or `--from-scan` are weighed with the database and
API, or decide alone (with a stated confidence) when those cannot be reached. `--migrations`
defaults to `supabase/migrations` when present.

Exit codes: 0 fixed and verified, or nothing to fix (`already_resolved`); 4 the database or API
was unreachable (or credentials/timeouts) so no verdict could be reached, or the reload could not
be sent; 5 not fixed: a verdict a reload cannot fix (`client_mismatch`, `pending_migration`,
`table_missing`, `schema_not_exposed`, `reload_not_applied`), a reload declined / dry run, or
not verified;
2 usage. With several incidents, the worst code wins (4 over 5 over 0).

`--json` prints one object per incident (an array for `--from-scan` without `--incident`):
`{"table", "column", "schema", "verdict", "confidence", "summary", "fixed", "evidence",
"suggestions", "nearest_columns", "established", "not_established", "steps", "journal",
"session", "logs", "recurrence"}` (plus `"columns"` with `--columns`).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from runbook.commands.common import add_reading_arguments
from runbook.commands.connection import (
    add_connection_arguments,
    positive_seconds,
    settings_from_args,
)
from runbook.commands.consent import confirm, wait_for_operator
from runbook.commands.run_logs import LogContext, columns_of, render_columns, render_deeper
from runbook.config import RELOAD_METHODS, Settings
from runbook.diagnosis.verdicts import Verdict
from runbook.errors import AuthFailed, RunbookError, UsageError
from runbook.evidence import Target
from runbook.exit_codes import Exit
from runbook.redact import masking_output
from runbook.servers.migration_ledger import default_migrations_dir
from runbook.steps.session import RunbookSession
from runbook.terminal import printable

PROG = "pgrst-runbook"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "run",
        help="diagnose one PGRST204 incident with evidence, reload if that is the fix, verify",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="exit codes: 0 fixed and verified (or nothing to fix); 2 usage error; 4 database or API unreachable, wrong credentials, timeouts; 5 not (proven) fixed: a dry run, a declined reload, or a verdict a reload cannot fix; 130 interrupted",
    )
    target = p.add_argument_group("incident")
    target.add_argument("--table", help="the table the failing writes go to")
    target.add_argument("--column", help="the column PostgREST could not find")
    target.add_argument("--schema", default=None, help="the table's schema (default: public)")
    target.add_argument("--from-scan", type=Path, metavar="FILE", help="scan --format json output")
    target.add_argument(
        "--incident", type=int, metavar="N", help="with --from-scan: only incident N (1-based)"
    )
    target.add_argument("--resume", metavar="SESSION", help="continue a journalled session")
    target.add_argument(
        "--logs",
        nargs="+",
        action="extend",
        default=[],
        metavar="PATH",
        help="logs to weigh with (or, unreachable, instead of) the database and API; without "
        "--table every incident in them",
    )
    add_connection_arguments(p)
    add_reading_arguments(p)  # how --logs are read
    steps = p.add_argument_group("steps")
    steps.add_argument(
        "--reload-method", choices=RELOAD_METHODS, help="how to reload (default notify)"
    )
    steps.add_argument("--rpc", metavar="FN", help="with --reload-method rpc: POST /rpc/FN")
    steps.add_argument(
        "--migrations",
        type=Path,
        metavar="DIR",
        help="local migration files, e.g. supabase/migrations",
    )
    steps.add_argument(
        "--allow-write-probe",
        action="store_true",
        help="offer the zero-row, rolled-back write probe",
    )
    steps.add_argument(
        "--watch-log",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="during verify, check this application log gets no new PGRST204 (repeatable)",
    )
    steps.add_argument(
        "--verify-deadline",
        type=positive_seconds,
        metavar="S",
        help="verify polls up to S seconds (default 30)",
    )
    steps.add_argument(
        "--yes", action="store_true", help="consent to state-changing steps without asking"
    )
    steps.add_argument(
        "--dry-run", action="store_true", help="run nothing state-changing; show what would run"
    )
    p.add_argument("--columns", action="store_true", help="also list the table's full column list")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=run)


@dataclass(frozen=True)
class RunRequest:
    """What `run` was asked to do with each incident, read once from the flags."""

    migrations: Path | None
    log_context: LogContext | None = None
    resume: str | None = None
    watch_log: tuple[str, ...] = ()
    dry_run: bool = False
    yes: bool = False
    allow_write_probe: bool = False
    json: bool = False
    columns: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace, log_context: LogContext | None) -> RunRequest:
        return cls(
            migrations=args.migrations if args.migrations is not None else default_migrations_dir(),
            log_context=log_context,
            resume=args.resume,
            watch_log=tuple(args.watch_log or ()),
            dry_run=bool(args.dry_run),
            yes=bool(args.yes),
            allow_write_probe=bool(args.allow_write_probe),
            json=bool(args.json),
            columns=bool(getattr(args, "columns", False)),
        )


@masking_output
def run(args: argparse.Namespace) -> int:
    """Entry point: returns an `Exit` code; errors are one line on stderr, never a traceback."""
    try:
        settings = settings_from_args(args)
        context = LogContext.load(args)
        request = RunRequest.from_args(args, context)
        if args.resume:
            targets: list[Target | None] = [None]
        elif args.logs and not (args.table or args.column or args.from_scan):
            targets = list(context.targets())
        else:
            targets = _targets(args)
    except RunbookError as exc:
        _error(exc)
        return exc.exit_code
    results: list[dict[str, Any]] = []
    codes: list[int] = []
    for target in targets:
        code, summary = run_one(target, settings, request)
        codes.append(code)
        if summary is not None:
            results.append(summary)
    if args.json:
        several = (args.from_scan or (args.logs and not args.table)) and args.incident is None
        payload: Any = results if several else (results[0] if results else {})
        json.dump(payload, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    return _worst(codes)


def _worst(codes: list[int]) -> int:
    for code in (Exit.USAGE, Exit.UNREACHABLE, Exit.NOT_FIXED):
        if code in codes:
            return code
    return Exit.OK if codes else Exit.USAGE


def _targets(args: argparse.Namespace) -> list[Target | None]:
    if args.from_scan:
        if args.table or args.column:
            raise UsageError("--from-scan and --table/--column exclude each other")
        return list(targets_from_scan(args.from_scan, args.incident))
    if not args.table or not args.column:
        raise UsageError(
            "say which incident: --table T --column C, --from-scan FILE, or --resume SESSION",
            next_step=f"e.g. {PROG} run --table profiles --column open_to_work_email",
        )
    return [Target(args.table, args.column, args.schema or "public")]


def targets_from_scan(path: Path, incident: int | None = None) -> list[Target]:
    """Targets from `scan --format json` output; `incident` picks one (1-based).

    Raises `UsageError` for unreadable files, bad numbers, or incidents without a column.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read scan output {path}: {exc}") from None
    incidents = data.get("incidents") if isinstance(data, dict) else None
    if not isinstance(incidents, list) or not incidents:
        raise UsageError(
            f"{path} lists no incidents",
            next_step="run `pgrst-runbook scan ... --format json` first",
        )
    if incident is not None:
        if not 1 <= incident <= len(incidents):
            raise UsageError(f"--incident {incident}: {path} has incidents 1..{len(incidents)}")
        chosen = [incidents[incident - 1]]
    else:
        chosen = incidents
    out = []
    for item in chosen:
        if not isinstance(item, dict) or not item.get("table") or not item.get("column"):
            if incident is not None:
                raise UsageError("that incident names no table and column; pass --table/--column")
            continue
        out.append(
            Target(str(item["table"]), str(item["column"]), str(item.get("schema") or "public"))
        )
    if not out:
        raise UsageError(f"no incident in {path} names both a table and a column")
    return out


def run_one(
    target: Target | None, settings: Settings, request: RunRequest
) -> tuple[int, dict[str, Any] | None]:
    """Work one incident through the steps; returns (exit code, the --json object)."""
    out = sys.stderr if request.json else sys.stdout
    context = request.log_context
    incident, logs = context.for_target(target) if (context and target) else (None, None)
    session_kwargs: dict[str, Any] = {
        "migrations_dir": request.migrations,
        "log_paths": list(request.watch_log) or None,
        "dry_run": request.dry_run,
        "log_diagnosis": logs,
        "incident": incident,
        "load_log_paths": context.files if context else None,
        "allow_write_probe": request.allow_write_probe,
    }
    try:
        if target is None:
            session = RunbookSession.resume(request.resume or "", settings, **session_kwargs)
        else:
            session = RunbookSession(target, settings, **session_kwargs)
    except RunbookError as exc:
        _error(exc)
        return exc.exit_code, None
    try:
        _steps(session, request, out)
    finally:
        session.close()
    _render_result(session, out)
    summary = session.summary()
    if request.columns:
        render_columns(session, out)
        summary["columns"] = columns_of(session)
    return exit_code(session), summary


def _steps(session: RunbookSession, request: RunRequest, out: TextIO) -> None:
    t = session.target
    out.write(f"Incident: {printable(t)}  (session {session.journal.session})\n")
    if session.reload_pending_verification:
        out.write("Resumed after a reload: verifying.\n")
        _verify(session, out)
        return
    inspection = session.inspect()
    errors = list(inspection.errors())
    if session.write_probe_rule().may_offer:  # the rule the TUI's `w` and verify follow too
        plan = session.plan_write_probe()
        session.write_probe(confirm(plan, yes=request.yes, dry_run=request.dry_run))
    diagnosis = session.diagnose()
    # Verdict first, each connection error said once: the verdict names them by title, the
    # evidence does not repeat them, and their one line (with the next step) follows on stderr.
    _render_diagnosis(session, out, said=[e.one_line() for e in errors], titles=[e.title for e in errors])
    out.flush()
    for err in errors:
        _error(err)
    render_deeper(session, out)
    if diagnosis.verdict is Verdict.RELOAD_NOT_APPLIED and session.plan_reload().method != "manual":
        # Not expected to land; sent (with consent) as a test: counter and load line will tell.
        out.write(
            "A NOTIFY is not expected to reach PostgREST; sending it tests the reload path.\n"
        )
    elif not diagnosis.reload_helps:
        if diagnosis.verdict not in (Verdict.ALREADY_RESOLVED, Verdict.UNKNOWN):
            out.write("No reload offered: it would not fix this.\n")
        return
    plan = session.plan_reload()
    if plan.method == "manual":
        out.write(f"\n{plan.instructions}\n")
        if request.dry_run:
            session.reload(confirmed=False)
            return
        session.reload(confirmed=True)
        if wait_for_operator("Reload by hand now, then press Enter to verify."):
            _verify(session, out)
        else:
            out.write(f"Then verify with: {PROG} run --resume {session.journal.session}\n")
        return
    outcome = session.reload(confirm(plan, yes=request.yes, dry_run=request.dry_run))
    if outcome.error is not None:
        _error(outcome.error)
    out.write(
        f"Reload: {outcome.status}"
        + (f" ({printable(outcome.detail)})" if outcome.detail else "")
        + "\n"
    )
    if outcome.sent:
        _verify(session, out)


def _verify(session: RunbookSession, out: TextIO) -> None:
    out.write(f"Verifying (up to {session.settings.verify_deadline:g} s)...\n")
    result = session.verify()
    for check in result.checks:
        out.write(f"  [{check.status}] {check.name}: {printable(check.detail)}\n")
    for row in session.load_rows():
        out.write(f"  [{row.answer}] {printable(row.check)}: {printable(row.detail)}\n")


def _render_diagnosis(
    session: RunbookSession,
    out: TextIO,
    said: list[str] | None = None,
    titles: list[str] | None = None,
) -> None:
    """The verdict and its evidence. `said` are error lines told on stderr right after: the
    summary names them by their `titles`, and an evidence row that only repeats one says so."""
    d = session.diagnosis
    if d is None:
        return
    summary = d.summary
    for line, title in zip(said or [], titles or [], strict=True):
        summary = summary.replace(line, f"{title} (below)")
    out.write(f"\nVerdict: {d.verdict}\n  {printable(summary)}\n")
    if d.evidence:
        out.write("Evidence:\n")
        for row in d.evidence:
            repeated = bool(row.detail) and any(row.detail in line for line in said or [])
            detail = f" — {printable(row.detail)}" if row.detail and not repeated else ""
            out.write(f"  [{row.answer:>7}] {row.source}: {printable(row.check)}{detail}\n")
    if d.not_established:
        out.write("Could not establish:\n")
        for item in d.not_established:
            out.write(f"  - {printable(item)}\n")


def _render_result(session: RunbookSession, out: TextIO) -> None:
    suggestions = session.suggestions()
    if suggestions:
        out.write("Next steps:\n")
        for s in suggestions:
            out.write(f"  - {printable(s)}\n")
    state = (
        "FIXED (verified)"
        if session.fixed and session.verification
        else ("nothing to fix" if session.fixed else "NOT FIXED")
    )
    out.write(
        f"Result: {session.verdict or 'no verdict'} — {state}\nJournal: {session.journal.path}\n"
    )


def exit_code(session: RunbookSession) -> int:
    """0 fixed/nothing to fix; 4 unreachable (no verdict, or the reload could not be sent) or
    credentials refused (whatever the other side said: the verdict was not checked against
    what the credentials would have shown); 5 otherwise."""
    errors = session.inspection.errors() if session.inspection else []
    if any(isinstance(e, AuthFailed) for e in errors):
        return Exit.UNREACHABLE
    if session.fixed:
        return Exit.OK
    if session.verdict in (Verdict.UNKNOWN, None) and any(
        e.exit_code == Exit.UNREACHABLE for e in errors
    ):
        return Exit.UNREACHABLE
    outcome = session.reload_outcome
    if (
        outcome is not None
        and outcome.error is not None
        and outcome.error.exit_code == Exit.UNREACHABLE
    ):
        return Exit.UNREACHABLE
    return Exit.NOT_FIXED


def _error(exc: RunbookError) -> None:
    sys.stderr.write(f"{PROG}: {printable(exc.one_line())}\n")
