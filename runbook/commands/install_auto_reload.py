"""`pgrst-runbook install-auto-reload`: the event trigger that reloads PostgREST after DDL.

Installs the recipe of PostgREST's docs (function `public.pgrst_watch()` sending
`NOTIFY <channel>, 'reload schema'`, event trigger `pgrst_watch` on `ddl_command_end`),
idempotently, in one transaction. `--uninstall` removes both. `--dry-run` prints the SQL only.
Asks first on a terminal; `--yes` for headless use. Needs a superuser (Supabase: `postgres`).
Exit codes: 0 done (or dry run); 5 declined; 4 database unreachable; 2 usage.
"""

from __future__ import annotations

import argparse
import sys

from runbook.commands.common import settings_or_usage
from runbook.commands.connection import add_connection_arguments
from runbook.commands.consent import confirm
from runbook.errors import RunbookError
from runbook.exit_codes import Exit
from runbook.redact import masking_output
from runbook.steps.journal import Journal
from runbook.steps.prevent import apply_script, install_script, script_text, uninstall_script
from runbook.steps.reload import PlannedAction
from runbook.terminal import printable


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "install-auto-reload",
        help="install (or --uninstall) the event trigger that reloads PostgREST after DDL",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    add_connection_arguments(p)
    p.add_argument("--uninstall", action="store_true", help="remove the trigger and its function")
    p.add_argument("--dry-run", action="store_true", help="print the SQL; run nothing")
    p.add_argument("--yes", action="store_true", help="do not ask")
    p.set_defaults(handler=run)


@masking_output
def run(args: argparse.Namespace) -> int:
    """Entry point: shows the SQL, asks, runs it, journals it."""
    settings = settings_or_usage(args)
    if settings is None:
        return Exit.USAGE
    statements = uninstall_script() if args.uninstall else install_script(settings.channel)
    text = script_text(statements)
    if args.dry_run:
        sys.stdout.write(text)
        return Exit.OK
    what = "Remove" if args.uninstall else "Install"
    plan = PlannedAction(
        step="prevent",
        method="sql",
        description=f"{what} the auto-reload event trigger (channel {settings.channel!r})",
        sql_or_http="\n" + text,
    )
    if not confirm(plan, yes=args.yes, dry_run=False):
        return Exit.NOT_FIXED
    try:
        journal = Journal.create(settings.journal_dir)
        try:
            apply_script(settings, statements)
        except RunbookError as exc:
            journal.append("prevent", "failed", action=text, error=exc)
            raise
        journal.append("prevent", "ok", action=text, result=f"{what.lower()}ed")
    except RunbookError as exc:
        sys.stderr.write(f"pgrst-runbook: {printable(exc.one_line())}\n")
        return exc.exit_code
    print(
        f"auto-reload trigger {'removed' if args.uninstall else 'installed'} (journal {journal.path})"
    )
    return Exit.OK
