"""`pgrst-runbook check`: database columns vs PostgREST's schema cache, for CI after migrations.

Compares every table's columns in the exposed schemas (`--schemas`, default `public`).
Exit codes: 0 no drift; 1 drift (the cache is stale: reload it); 4 database or API unreachable;
2 usage. With `--json`: `{"clean", "source", "schemas", "tables_compared", "drift": [{"schema",
"table", "kind", "columns"}], "warnings"}`.
"""

from __future__ import annotations

import argparse
import json
import sys

from runbook.commands.connection import add_connection_arguments, settings_from_args
from runbook.errors import RunbookError
from runbook.exit_codes import Exit
from runbook.redact import masking_output
from runbook.servers.api import PostgrestClient
from runbook.steps.prevent import check_drift
from runbook.terminal import printable


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "check",
        help="compare database columns with PostgREST's schema cache; exit 1 on drift",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="exit codes: 0 the database and the cache agree; 1 drift found; 2 usage error; 4 database or API unreachable, wrong credentials, timeouts",
    )
    add_connection_arguments(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=run)


@masking_output
def run(args: argparse.Namespace) -> int:
    """Entry point: prints the drift (or "no drift") and returns the exit code."""
    try:
        settings = settings_from_args(args)
        with PostgrestClient(settings) as client:
            report = check_drift(settings, client)
    except RunbookError as exc:
        sys.stderr.write(f"pgrst-runbook: {printable(exc.one_line())}\n")
        return exc.exit_code
    if args.json:
        json.dump(
            {
                "clean": report.clean,
                "source": report.source,
                "schemas": list(report.schemas),
                "tables_compared": report.tables_compared,
                "drift": [
                    {
                        "schema": d.schema,
                        "table": d.table,
                        "kind": d.kind,
                        "columns": list(d.columns),
                    }
                    for d in report.drifts
                ],
                "warnings": report.warnings,
            },
            sys.stdout,
            ensure_ascii=False,
            indent=2,
        )
        sys.stdout.write("\n")
    else:
        for warning in report.warnings:
            sys.stderr.write(f"warning: {printable(warning)}\n")
        for drift in report.drifts:
            print(f"drift: {printable(drift.describe())}")
        schemas = ", ".join(report.schemas)
        if report.clean:
            print(
                f"no drift: {report.tables_compared} tables in {schemas} match the {report.source} cache"
            )
        else:
            print(
                f"{len(report.drifts)} drift(s) between the database and the {report.source} cache: "
                "reload the schema cache (NOTIFY pgrst, 'reload schema')"
            )
    return Exit.OK if report.clean else Exit.FOUND
